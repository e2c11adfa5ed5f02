"""SIGSTOP a tracker past AckWait; another tracker gets the redelivery and finishes the job; SIGCONT the
first: its late writes are fenced. Status never goes backwards, no second or different output object
appears, and the final record comes from the newer delivery.

The late tracker is the real worker loop (fake pipeline, tests/support/fake_tracker_worker.py) started
with SHIFTCLIPPER_FAKE_EXTRA_SEGMENT=1: it reports a segment 99 at the end of the video, which the
tracker that finishes the job never reports. Unfenced, that late segment would reach the status record
and make the exporter cut `clips/099.mp4`.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.status import JobState
from shiftclipper_projector.transitions import apply_event
from tests.faults.conftest import (
    ACK_WAIT_S,
    Stack,
    StatusRecorder,
    assert_monotone,
    checkpoint_exists,
    log_text,
    object_keys,
    status_history,
    submit,
    wait_for,
)
from tests.support.services import wait_status
from tests.support.videos import make_video

JOB = "0123456789abcdef"
TERMINAL = {"done", "done_no_shifts", "failed", "cancelled"}


def test_projector_fences_an_older_delivery_within_an_attempt() -> None:
    """Pure transitions: once delivery 2 has started, delivery 1's events change nothing."""
    record = apply_event(None, ev.JobCreated(job_id=JOB, name="j", owner="alice"), 1)
    record = apply_event(record, ev.JobQueued(job_id=JOB, attempt=1), 2)
    record = apply_event(record, ev.TrackingStarted(job_id=JOB, attempt=1, delivery=1, worker="a"), 3)
    record = apply_event(record, ev.TrackingProgress(job_id=JOB, attempt=1, delivery=1, progress=0.5), 4)
    record = apply_event(record, ev.TrackingStarted(job_id=JOB, attempt=1, delivery=2, worker="b"), 5)
    assert record is not None and record.delivery == 2 and record.message == "tracking on b"
    late = ev.Segment(index=99, start_s=0, end_s=1, confidence=0.1)
    spec = ev.ExportSpec(video_key="k", video=None, pre_roll_s=0, post_roll_s=0, clip_mode="copy", reel=False)  # type: ignore[arg-type]
    for seq, event in enumerate(
        [
            ev.TrackingProgress(job_id=JOB, attempt=1, delivery=1, progress=0.9),
            ev.SegmentFound(job_id=JOB, attempt=1, delivery=1, segment=late, export=spec),
            ev.JobFailed(job_id=JOB, attempt=1, delivery=1, error=ev.ErrorInfo("x", "late"), stage="track"),
            ev.JobCancelled(job_id=JOB, attempt=1, delivery=1),
        ],
        start=6,
    ):
        after = apply_event(record, event, seq)
        assert after is not None
        assert (after.status, after.progress, after.shifts, after.error) == (
            record.status,
            record.progress,
            record.shifts,
            record.error,
        ), event
        record = after
    assert record.status == JobState.tracking
    # A retry (new attempt) starts the delivery count again.
    record = apply_event(record, ev.JobQueued(job_id=JOB, attempt=2), 20)
    assert record is not None and record.delivery == 0


def test_message_ids_differ_by_delivery() -> None:
    """Otherwise a superseded tracker's `tracking_done`, stored first, would make the real one a duplicate."""
    from shiftclipper_common.bus import event_msg_id

    one = event_msg_id(ev.JobCancelled(job_id=JOB, attempt=1, delivery=1), "")
    two = event_msg_id(ev.JobCancelled(job_id=JOB, attempt=1, delivery=2), "")
    assert one != two
    assert event_msg_id(ev.JobCancelled(job_id=JOB, attempt=1), "") == f"{JOB}.1.cancelled."  # unchanged


@pytest.mark.slow
def test_late_writer_is_fenced(fake_trackers: Stack, tmp_path: Path) -> None:
    stack = fake_trackers
    video = make_video(tmp_path / "twelve.mp4", seconds=12.0, fps=25)
    # A works at 1 video-second per second, so it is mid-job when stopped.
    late = stack.start_fake_tracker(SHIFTCLIPPER_FAKE_EXTRA_SEGMENT="1", SHIFTCLIPPER_FAKE_SPEED="1")
    with stack.client() as client:
        job_id = submit(client, video, "late-writer", run=False)
        recorder = StatusRecorder(stack.url, job_id)
        assert client.post(f"/jobs/{job_id}/run").status_code == 202
        wait_for(lambda: client.get(f"/jobs/{job_id}").json()["segments_found"] >= 1, 60, "A's first segment")
        wait_for(lambda: checkpoint_exists(stack.infra, job_id), 30, "A's checkpoint")
        late.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        newer = stack.start_fake_tracker(SHIFTCLIPPER_FAKE_SPEED="4")

        final = wait_status(client, job_id, TERMINAL, timeout=120)
        assert time.monotonic() - stopped_at >= ACK_WAIT_S  # the redelivery waited for AckWait
        assert final["status"] == "done", final
        assert final["delivery"] >= 2 and final["attempt"] == 1, final
        assert "resuming from checkpoint" in log_text(newer)
        assert_monotone(recorder.join(30))
        results_before = client.get(f"/jobs/{job_id}/results").json()
        clips_before = object_keys(stack.infra, f"jobs/{job_id}/")

        late.signal(signal.SIGCONT)
        wait_for(lambda: "superseded" in log_text(late), 30, "the late tracker to let go")
        time.sleep(3)  # time for anything it published to reach the projector and the exporter

        after = client.get(f"/jobs/{job_id}").json()
        results_after = client.get(f"/jobs/{job_id}/results").json()
        clips_after = object_keys(stack.infra, f"jobs/{job_id}/")
    assert late.alive, "the late tracker crashed instead of letting go"
    ignore = {"last_event_seq"}  # fenced events are still consumed (acked), nothing else moves
    assert {k: v for k, v in after.items() if k not in ignore} == {k: v for k, v in final.items() if k not in ignore}
    assert [s["index"] for s in after["shifts"]] == [0, 1, 2]
    assert _no_urls(results_after) == _no_urls(results_before)
    assert clips_after == clips_before
    assert names.clip_key(job_id, 99) not in clips_after
    assert sorted(k for k in clips_after if "/clips/" in k) == [names.clip_key(job_id, i) for i in range(3)]
    assert_monotone(status_history(stack.infra, job_id))


def _no_urls(value: object) -> object:
    """Presigned URLs are signed per request; everything else must be identical."""
    if isinstance(value, dict):
        return {k: _no_urls(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [_no_urls(v) for v in value]
    return value
