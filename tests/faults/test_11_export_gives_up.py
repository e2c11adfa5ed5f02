"""An exporter event interrupted on every delivery fails its job instead of leaving it `exporting` for ever.

After max_deliver (max_attempts + 1) deliveries JetStream never delivers a message again. Here the projector (in
the gateway) is down while `tracking_done` arrives, so the exporter cannot see the job's status catch up and its
handling is interrupted on each delivery (PROJECTOR_WAIT_S each); on the last one it publishes `failed`. Once the
gateway is back, its projector applies that and the job ends failed, with the reason.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import nats.js.errors
import pytest

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from tests.conftest import Infra
from tests.faults.conftest import ALICE, submit
from tests.support.fake_tracker import export_spec, publish_done
from tests.support.services import gateway, service_env, start_service, wait_status
from tests.support.videos import make_video

GIVE_UP_WITHIN_S = 150.0
"""Two deliveries (max_attempts 1), each waiting PROJECTOR_WAIT_S (30 s), AckWait (5 s) between them."""


async def _publish_tracking_done(infra: Infra, job_id: str, video_info: dict[str, Any]) -> None:
    nc, js = await connect(infra.config, "fake-tracker")
    try:
        await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
        await publish_done(js, job_id, export_spec(job_id, video_info))
    finally:
        await nc.close()


async def _failed_event(infra: Infra, job_id: str, timeout: float) -> ev.Event | None:
    nc, js = await connect(infra.config, "watcher")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                msg = await js.get_last_msg(names.EVENTS_STREAM, names.event_subject(job_id, "failed"))
                return ev.decode_event(msg.data)
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(1.0)
        return None
    finally:
        await nc.close()


@pytest.mark.slow
def test_tracking_done_interrupted_on_every_delivery_fails_the_job(make_infra, tmp_path: Path) -> None:
    infra = make_infra(ack_wait_s=5, max_attempts=1)
    logs = tmp_path / "logs"
    exporter = start_service("exporter", service_env(infra.config), logs)
    try:
        video = make_video(tmp_path / "v.mp4", seconds=4.0, fps=25)
        with gateway(infra.config, logs) as url, httpx.Client(base_url=url, headers=ALICE, timeout=30) as client:
            job_id = submit(client, video)
            video_info = client.get(f"/jobs/{job_id}").json()["video"]
        # the gateway, and the projector in it, is down from here
        asyncio.run(_publish_tracking_done(infra, job_id, video_info))
        failed = asyncio.run(_failed_event(infra, job_id, GIVE_UP_WITHIN_S))
        log = (logs / "exporter.log").read_text()
        assert isinstance(failed, ev.JobFailed), f"no failed event for {job_id}; exporter log:\n{log[-3000:]}"
        assert failed.stage == "export" and "interrupted on every delivery" in failed.error.message
        with gateway(infra.config, logs) as url, httpx.Client(base_url=url, headers=ALICE, timeout=30) as client:
            record = wait_status(client, job_id, {"failed", "done"}, timeout=60)
        assert record["status"] == "failed", record
        assert "interrupted on every delivery" in record["error"]["message"]
    finally:
        exporter.stop()
