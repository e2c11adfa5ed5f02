"""Object storage down mid-export: the exporter keeps the work, retries with backoff and completes once
storage is back. The test plays the tracker (publishes its events), so no detector is needed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from tests.faults.conftest import Stack, log_text, object_keys, run_async, submit
from tests.support.fake_tracker import export_spec, publish_done, publish_segments
from tests.support.services import wait_status
from tests.support.videos import make_video

OUTAGE_S = 12.0


@pytest.mark.slow
def test_storage_outage_mid_export(stack: Stack, tmp_path: Path) -> None:
    video = make_video(tmp_path / "game.mp4", seconds=12.0, fps=25)
    with stack.client() as client:
        job_id = submit(client, video, "s3-outage", run=False)  # no work message: the test is the tracker
        info = client.get(f"/jobs/{job_id}").json()["video"]
        run_async(_publish(stack, job_id, info, before_outage=True))
        stack.infra.s3.stop()
        try:
            run_async(_publish(stack, job_id, info, before_outage=False))
            time.sleep(OUTAGE_S)  # longer than AckWait and than the exporter's nak backoff (1 + 5 s)
            status = client.get(f"/jobs/{job_id}").json()
            assert status["status"] == "exporting", status
        finally:
            stack.infra.s3.start()
        final = wait_status(client, job_id, {"done", "failed"}, timeout=120)
        assert final["status"] == "done" and final["clips_ready"] == 2, final
    assert stack.exporter is not None
    cuts = [line for line in log_text(stack.exporter).splitlines() if "clip cut" in line and job_id in line]
    assert len(cuts) == 2, "a clip was cut twice: the event was redelivered while still being handled"
    clips = object_keys(stack.infra, f"jobs/{job_id}/clips/")
    assert clips == [names.clip_key(job_id, 0), names.clip_key(job_id, 1)]


async def _publish(stack: Stack, job_id: str, info: dict[str, object], before_outage: bool) -> None:
    nc, js = await connect(stack.infra.config, "fake-tracker")
    try:
        if before_outage:
            await publish_event(js, ev.JobQueued(job_id=job_id, attempt=1), "")
            await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
            return
        spec = export_spec(job_id, info)
        await publish_segments(js, job_id, spec)
        await publish_done(js, job_id, spec)
    finally:
        await nc.close()
