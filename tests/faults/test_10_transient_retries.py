"""A transient tracking failure (not a bad video) is retried with growing backoff (`nak(delay=)`) up to
`max_attempts` deliveries, then the job is failed with `tracking_error`, dead-lettered, and `retry`
queues a new attempt.

The tracker is the real worker loop with the fake pipeline, which raises RuntimeError for an input
named `transient*` (tests/support/fake_tracker_worker.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from shiftclipper_tracker.worker import BACKOFF_S
from tests.faults.conftest import MAX_ATTEMPTS, Stack, log_text, wait_for
from tests.support.services import wait_status

_MP4 = {"Content-Type": "video/mp4"}


@pytest.mark.slow
def test_transient_error_retried_with_backoff_then_dead_lettered(
    fake_trackers: Stack, small_video: Path, tmp_path: Path
) -> None:
    stack = fake_trackers
    spans = tmp_path / "spans.txt"
    tracker = stack.start_fake_tracker(SHIFTCLIPPER_FAKE_SPANS=str(spans))
    with stack.client() as client:
        job_id = client.post("/jobs", json={"name": "transient"}).json()["job_id"]
        put = client.put(f"/jobs/{job_id}/video?filename=transient.mp4", content=small_video.read_bytes(), headers=_MP4)
        assert put.status_code == 200, put.text
        client.put(f"/jobs/{job_id}/setup", json={"jersey_number": "19", "jersey_color": "red"}).raise_for_status()
        assert client.post(f"/jobs/{job_id}/run").status_code == 202

        final = wait_status(client, job_id, {"failed", "done", "done_no_shifts", "cancelled"}, timeout=120)
        assert final["status"] == "failed", final
        assert final["error"]["code"] == "tracking_error", final
        assert "transient" in final["error"]["message"], final
        assert final["attempt"] == 1 and final["delivery"] == MAX_ATTEMPTS, final

        starts = [float(line.split()[3]) for line in spans.read_text().splitlines() if line.startswith("start")]
        assert len(starts) == MAX_ATTEMPTS, starts  # each delivery ran once, no more
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        for gap, backoff in zip(gaps, BACKOFF_S, strict=False):
            assert gap >= backoff * 0.9, (gaps, BACKOFF_S)  # the nak delay was honoured
        assert log_text(tracker).count("tracking error") == MAX_ATTEMPTS

        dead = {j["job_id"] for j in client.get("/dead-letters").json()["jobs"]}
        assert job_id in dead
        assert client.post(f"/jobs/{job_id}/retry").status_code == 202
        wait_for(lambda: client.get(f"/jobs/{job_id}").json()["attempt"] == 2, 30, "attempt 2 queued")
        client.post(f"/jobs/{job_id}/cancel")  # attempt 2 would fail the same way: stop it
