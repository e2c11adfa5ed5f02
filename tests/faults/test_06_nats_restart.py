"""Restart nats-server (file storage) mid-job and mid-publish: no accepted job is lost, the running job
finishes, and every service carries on without a process restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PRACTICE_CLIP
from tests.faults.conftest import ALICE, Stack, needs_model, submit, wait_progress
from tests.support.services import wait_ready, wait_status

FINAL = {"done", "done_no_shifts", "failed", "cancelled"}


@pytest.mark.slow
@needs_model
def test_nats_restart_mid_job(stack: Stack, small_video: Path) -> None:
    processes = [*stack.live_trackers(), stack.exporter, stack.gateway]
    with stack.client() as client:
        running = submit(client, PRACTICE_CLIP, "nats-running")
        wait_progress(client, running, 0.1)
        waiting = submit(client, small_video, "nats-waiting")  # accepted, waiting in the work queue

        accepted: list[str] = []
        stack.infra.nats.stop()
        during = threading.Thread(target=_create_during_outage, args=(stack.url, accepted))
        during.start()
        time.sleep(3)
        stack.infra.nats.start()
        during.join(60)
        assert stack.gateway is not None
        wait_ready(stack.url, stack.gateway)
        after = submit(client, small_video, "nats-after")

        final = wait_status(client, running, FINAL, timeout=300)
        assert final["status"] == "done", final
        for job_id in (waiting, after):
            status = wait_status(client, job_id, FINAL, timeout=120)
            assert status["status"] in ("done", "done_no_shifts"), status
        for job_id in accepted:  # a job the gateway said yes to during the outage exists afterwards
            assert client.get(f"/jobs/{job_id}").status_code == 200
    assert all(proc is not None and proc.alive for proc in processes), "a service died with the broker"


def _create_during_outage(url: str, accepted: list[str]) -> None:
    try:
        answer = httpx.post(f"{url}/jobs", json={"name": "nats-during"}, headers=ALICE, timeout=30)
    except httpx.HTTPError:
        return
    if answer.status_code in (200, 201):
        accepted.append(answer.json()["job_id"])
