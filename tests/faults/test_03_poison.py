"""A poison job (a video whose header is fine but whose frames are garbage) fails at its first delivery
with a clear error code instead of being retried, and `retry` queues a new attempt."""

from __future__ import annotations

from pathlib import Path

from tests.faults.conftest import Stack, corrupt_video, log_text, needs_model, submit
from tests.support.services import wait_status

FINAL = {"failed", "done", "done_no_shifts", "cancelled"}


@needs_model
def test_poison_job_fails_fast_and_retry_requeues(stack: Stack, small_video: Path, tmp_path: Path) -> None:
    bad = corrupt_video(small_video, tmp_path / "poison.mp4")
    with stack.client() as client:
        job_id = submit(client, bad, "poison")  # the gateway's probe accepts it: the header is intact
        final = wait_status(client, job_id, FINAL, timeout=240)
        assert final["status"] == "failed", final
        assert final["error"]["code"] == "video_unreadable" and final["attempt"] == 1, final
        starts = sum(_starts(log_text(t), job_id) for t in stack.trackers)
        assert starts == 1, "a corrupt video must not be retried"
        dead = [j["job_id"] for j in client.get("/dead-letters").json()["jobs"]]
        assert job_id in dead

        retried = client.post(f"/jobs/{job_id}/retry")
        assert retried.status_code == 202, retried.text
        assert retried.json()["status"] == "queued" and retried.json()["attempt"] == 2
        again = wait_status(client, job_id, FINAL, timeout=120)
        assert again["status"] == "failed" and again["attempt"] == 2, again
        assert client.get("/stats").json()["dead_letters"] >= 1


def _starts(log: str, job_id: str) -> int:
    return sum(1 for line in log.splitlines() if "tracking started" in line and job_id in line)
