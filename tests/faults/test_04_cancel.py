"""Cancel a queued and a running job: both end `cancelled`; the tracker lets go of the running one
within 2 s and then takes the next job."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import PRACTICE_CLIP
from tests.faults.conftest import Stack, needs_model, submit, wait_for, wait_progress, work_consumer
from tests.support.services import wait_status


@needs_model
def test_cancel_queued_and_running_jobs(stack: Stack, small_video: Path) -> None:
    with stack.client() as client:
        running = submit(client, PRACTICE_CLIP, "cancel-running")
        wait_progress(client, running, 0.02)
        queued = submit(client, small_video, "cancel-queued")  # behind it: the tracker takes one job at a time
        assert client.get(f"/jobs/{queued}").json()["status"] == "queued"
        answer = client.post(f"/jobs/{queued}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "cancelled", answer.text

        asked = time.monotonic()
        answer = client.post(f"/jobs/{running}/cancel")
        assert answer.status_code == 202 and answer.json()["status"] == "cancelled", answer.text
        # The tracker acks the work message only once its tracking thread has stopped.
        wait_for(lambda: work_consumer(stack.infra) == (0, 0), 5.0, "the tracker to let go", every=0.05)
        took = time.monotonic() - asked
        assert took <= 2.0, f"the tracker took {took:.2f} s to stop"

        for job_id in (running, queued):
            assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
        after = submit(client, small_video, "after-cancel")
        final = wait_status(client, after, {"done", "done_no_shifts", "failed", "cancelled"}, timeout=120)
        assert final["status"] in ("done", "done_no_shifts"), final
