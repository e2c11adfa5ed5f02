"""The projector's pure transitions: status never goes backwards, old attempts are fenced."""

from __future__ import annotations

from shiftclipper_contracts import events as ev
from shiftclipper_contracts.status import ErrorInfo, JobState, StatusRecord
from shiftclipper_projector.transitions import apply_event

JOB = "0123456789abcdef"


class Stream:
    """Applies events with increasing stream sequences, like the projector does."""

    def __init__(self) -> None:
        self.seq = 0
        self.record: StatusRecord | None = None

    def __call__(self, event: ev.Event, seq: int | None = None) -> StatusRecord | None:
        self.seq += 1
        self.record = apply_event(self.record, event, self.seq if seq is None else seq)
        return self.record


def started() -> Stream:
    s = Stream()
    s(ev.JobCreated(job_id=JOB, name="g", owner="alice"))
    s(ev.JobQueued(job_id=JOB, attempt=1))
    s(ev.TrackingStarted(job_id=JOB, attempt=1, worker="w"))
    return s


def test_happy_path_moves_forward_to_done():
    s = started()
    assert s.record and s.record.status == JobState.tracking
    s(ev.TrackingProgress(job_id=JOB, attempt=1, progress=0.5))
    assert s.record.progress == 0.45  # tracking is 90 % of the bar
    seg = ev.Segment(index=0, start_s=1, end_s=5, confidence=0.9)
    spec = None
    s(
        ev.TrackingDone(
            job_id=JOB, attempt=1, segments=[seg], stats=ev.TrackingStats(), export=spec, target=None, mode="shifts"
        )
    )  # type: ignore[arg-type]
    assert s.record.status == JobState.exporting and s.record.segments_found == 1
    s(ev.ClipReady(job_id=JOB, attempt=1, segment_index=0, key="k", thumb_key=None))
    s(ev.ExportDone(job_id=JOB, attempt=1, results_key="r", shift_count=1, toi_s=4.0, reel_key=None))
    assert s.record.status == JobState.done and s.record.progress == 1.0 and s.record.has_results


def test_progress_never_decreases_and_state_never_regresses():
    s = started()
    s(ev.TrackingProgress(job_id=JOB, attempt=1, progress=0.8))
    s(ev.TrackingProgress(job_id=JOB, attempt=1, progress=0.3))  # a late, reordered tick
    assert s.record and s.record.progress == 0.72
    s(ev.ExportDone(job_id=JOB, attempt=1, results_key="r", shift_count=0, toi_s=0, reel_key=None))
    s(ev.TrackingStarted(job_id=JOB, attempt=1, worker="late"))
    s(ev.JobFailed(job_id=JOB, attempt=1, error=ErrorInfo(code="x", message="late"), stage="track"))
    assert s.record.status == JobState.done_no_shifts and s.record.error is None


def test_events_of_an_older_attempt_are_fenced():
    s = started()
    s(ev.CancelRequested(job_id=JOB, attempt=1))
    s(ev.JobQueued(job_id=JOB, attempt=2))
    assert s.record and s.record.status == JobState.queued and s.record.attempt == 2
    s(ev.TrackingProgress(job_id=JOB, attempt=1, progress=0.9))  # the paused old worker wakes up
    s(ev.ExportDone(job_id=JOB, attempt=1, results_key="r", shift_count=3, toi_s=9, reel_key=None))
    assert s.record.status == JobState.queued and s.record.progress == 0.0


def test_redelivered_event_is_not_applied_twice():
    s = started()
    s(
        ev.SegmentFound(
            job_id=JOB, attempt=1, segment=ev.Segment(index=0, start_s=0, end_s=1, confidence=1), export=None
        )
    )  # type: ignore[arg-type]
    before = s.record
    again = apply_event(before, ev.TrackingProgress(job_id=JOB, attempt=1, progress=1.0), seq=1)
    assert again is before


def test_cancel_is_terminal_and_retry_requeues():
    s = started()
    s(ev.CancelRequested(job_id=JOB, attempt=1))
    s(ev.TrackingProgress(job_id=JOB, attempt=1, progress=0.5))
    assert s.record and s.record.status == JobState.cancelled and s.record.error
    s(ev.JobQueued(job_id=JOB, attempt=1))  # duplicate queue of the same attempt changes nothing
    assert s.record.status == JobState.cancelled
    s(ev.JobQueued(job_id=JOB, attempt=2))
    assert s.record.status == JobState.queued and s.record.error is None


def test_upload_failure_returns_to_created_and_delete_removes():
    s = Stream()
    s(ev.JobCreated(job_id=JOB, name="g", owner="alice"))
    s(ev.UploadStarted(job_id=JOB))
    s(ev.UploadFailed(job_id=JOB, error=ErrorInfo(code="video_unreadable", message="bad")))
    assert s.record and s.record.status == JobState.created and s.record.error
    assert s(ev.JobDeleted(job_id=JOB)) is None
    assert s(ev.TrackingStarted(job_id=JOB, attempt=1, worker="w")) is None  # deleted stays deleted
