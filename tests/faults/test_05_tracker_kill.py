"""SIGKILL the tracker mid-job: the work is redelivered to another tracker, which resumes from the
checkpoint; the job ends `done` with exactly one clip object per shift and a status history that never
goes backwards."""

from __future__ import annotations

import pytest

from shiftclipper_contracts import names
from tests.conftest import PRACTICE_CLIP
from tests.faults.conftest import (
    Stack,
    StatusRecorder,
    assert_monotone,
    checkpoint_exists,
    log_text,
    needs_model,
    object_keys,
    submit,
    wait_for,
    wait_progress,
)
from tests.support.services import wait_status


@pytest.mark.slow
@needs_model
def test_sigkill_tracker_mid_job(stack: Stack) -> None:
    with stack.client() as client:
        job_id = submit(client, PRACTICE_CLIP, "sigkill", run=False)
        recorder = StatusRecorder(stack.url, job_id)
        assert client.post(f"/jobs/{job_id}/run").status_code == 202
        wait_progress(client, job_id, 0.01)
        [first] = stack.live_trackers()
        second = stack.start_tracker()  # loads its models while the first one works
        wait_for(lambda: checkpoint_exists(stack.infra, job_id), 120, "a checkpoint", every=0.5)
        first.kill()  # SIGKILL: no chance to nak or publish anything

        final = wait_status(client, job_id, {"done", "done_no_shifts", "failed", "cancelled"}, timeout=300)
        assert final["status"] == "done", final
        assert "resuming from checkpoint" in log_text(second), "the second tracker started over"
        assert_monotone(recorder.join(30))
        results = client.get(f"/jobs/{job_id}/results").json()
    assert results["shift_count"] >= 1
    clips = object_keys(stack.infra, f"jobs/{job_id}/clips/")
    assert clips == sorted(names.clip_key(job_id, shift["index"]) for shift in results["shifts"])
