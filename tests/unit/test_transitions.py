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


# --- preview proxy and shift review -----------------------------------------------------------------

VIDEO = ev.VideoInfo(size=100, duration_s=60.0, fps=25.0, width=320, height=240, codec="h264")


def test_proxy_ready_counts_for_the_current_upload_only_and_survives_a_run():
    s = Stream()
    s(ev.JobCreated(job_id=JOB, name="g", owner="alice"))
    s(ev.VideoUploaded(job_id=JOB, video=VIDEO, key="k"))
    s(ev.JobQueued(job_id=JOB, attempt=1))  # the user runs before the proxy is made
    s(ev.ProxyReady(job_id=JOB, attempt=0, key="p", video=VIDEO))  # attempt 0: not fenced
    assert s.record and s.record.proxy_ready and s.record.status == JobState.queued
    other = ev.VideoInfo(size=7, duration_s=1.0, fps=25.0, width=2, height=2, codec="h264")
    s2 = Stream()
    s2(ev.JobCreated(job_id=JOB, name="g", owner="alice"))
    s2(ev.VideoUploaded(job_id=JOB, video=VIDEO, key="k"))
    s2(ev.ProxyReady(job_id=JOB, key="p", video=VIDEO))
    s2(ev.VideoUploaded(job_id=JOB, video=other, key="k"))  # replaced: its proxy is not made yet
    assert s2.record and not s2.record.proxy_ready
    s2(ev.ProxyReady(job_id=JOB, key="p", video=VIDEO))  # a late proxy of the old upload
    assert not s2.record.proxy_ready


def done_with_two_shifts() -> Stream:
    s = started()
    s.record.video = VIDEO  # type: ignore[union-attr]
    segments = [
        ev.Segment(index=0, start_s=2, end_s=4, confidence=0.9),
        ev.Segment(index=1, start_s=7, end_s=10, confidence=0.8),
    ]
    s(
        ev.TrackingDone(
            job_id=JOB, attempt=1, segments=segments, stats=ev.TrackingStats(), export=None, target=None, mode="shifts"
        )
    )  # type: ignore[arg-type]
    for i in (0, 1):
        s(ev.ClipReady(job_id=JOB, attempt=1, segment_index=i, key="k", thumb_key=None))
    s(ev.ExportDone(job_id=JOB, attempt=1, results_key="r", shift_count=2, toi_s=5.0, reel_key="reel"))
    assert s.record and s.record.status == JobState.done and [x.index for x in s.record.shifts] == [0, 1]
    return s


def test_trim_gets_a_new_revision_and_stays_done_until_exported():
    s = done_with_two_shifts()
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=1, start_s=8.0))
    r = s.record
    assert r and r.status == JobState.done and r.stage == "review" and r.review_pending
    shift = r.shifts[1]
    assert (shift.start_s, shift.end_s, shift.revision, shift.clip_ready) == (8.0, 10, 1, False)
    assert shift.edit_seq == r.last_event_seq and r.clips_ready == 1 and r.progress == 1.0
    s(ev.ClipReady(job_id=JOB, attempt=1, segment_index=1, key="k", thumb_key=None))  # the old revision's
    assert not s.record.shifts[1].clip_ready
    s(ev.ClipReady(job_id=JOB, attempt=1, segment_index=1, key="k", thumb_key=None, revision=1))
    assert s.record.shifts[1].clip_ready and s.record.clips_ready == 2
    s(ev.ReviewExported(job_id=JOB, attempt=1, revision=1, results_key="r", shift_count=2, toi_s=4.0, reel_key="x"))
    assert not s.record.review_pending and s.record.stage == "done" and s.record.status == JobState.done


def test_reject_is_a_decision_without_a_new_clip_and_a_no_op_changes_nothing():
    s = done_with_two_shifts()
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=0, decision="rejected"))
    r = s.record
    assert r and r.shifts[0].decision == "rejected" and r.shifts[0].revision == 0 and r.shifts[0].clip_ready
    assert r.review_revision == 1 and r.review_pending
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=0, decision="rejected"))  # the same again
    assert s.record.review_revision == 1 and s.record.shifts[0].edit_seq == s.record.last_event_seq


def test_an_edit_a_concurrent_one_made_invalid_is_dropped():
    s = done_with_two_shifts()
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=1, end_s=8.0))
    first = s.record.shifts[1].edit_seq  # type: ignore[union-attr]
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=1, start_s=9.0))  # valid against the old end (10 s) only
    assert s.record and s.record.shifts[1].edit_seq == first and s.record.shifts[1].start_s == 7
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=1, end_s=61.0))  # past the video
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=5, end_s=3.0))  # no such shift
    assert s.record.review_revision == 1


def test_review_only_applies_to_done_jobs_and_a_retry_abandons_it():
    s = started()
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=0, decision="rejected"))
    assert s.record and s.record.review_revision == 0
    s = done_with_two_shifts()
    s(ev.ShiftEdited(job_id=JOB, attempt=1, index=0, start_s=1.0))
    s(ev.JobQueued(job_id=JOB, attempt=2))
    r = s.record
    assert r and r.status == JobState.queued and not r.review_pending and r.review_revision == 1
    s(ev.ReviewExported(job_id=JOB, attempt=1, revision=1, results_key="r", shift_count=2, toi_s=4, reel_key=None))
    assert s.record.stage == "queue"  # the old attempt's re-export is fenced
