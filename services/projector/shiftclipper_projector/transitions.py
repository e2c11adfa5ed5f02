"""How each event changes a status record. Pure: no I/O, unit-tested without a broker.

Rules that keep status honest:
- events of an older attempt are ignored (a late or fenced worker cannot rewrite a retried job);
- within an attempt, tracker events of an older delivery are ignored too (a tracker paused past AckWait
  whose work went to another tracker cannot write over the newer one);
- within an attempt the state only moves up STATE_RANK and progress never decreases;
- a terminal state is final until a retry queues a new attempt.
"""

from __future__ import annotations

from functools import singledispatch

import msgspec

from shiftclipper_contracts import events as ev
from shiftclipper_contracts.status import (
    STATE_RANK,
    TERMINAL_STATES,
    ErrorInfo,
    JobState,
    ShiftSummary,
    StatusRecord,
)

from . import review

TRACKING_SHARE = 0.9
"""Share of overall progress given to tracking; clips are cut while it runs, the reel comes last."""

PRE_RUN = frozenset({JobState.created, JobState.uploading, JobState.uploaded})


def apply_event(record: StatusRecord | None, event: ev.Event, seq: int) -> StatusRecord | None:
    """The record after `event` (stream sequence `seq`); None means the record is deleted."""
    if isinstance(event, ev.JobCreated):
        return record or _new_record(event, seq)
    if record is None or seq <= record.last_event_seq:
        return record  # unknown/deleted job, or an event already applied (redelivery)
    if isinstance(event, ev.JobDeleted):
        return None
    updated = msgspec.structs.replace(record, last_event_seq=seq)
    if isinstance(event, ev.JobQueued):
        return _queue(updated, event)
    if isinstance(event, ev.ProxyReady):
        return review.proxy_ready(updated, event)
    if event.attempt != record.attempt:
        return updated  # fenced: an older (or unknown) attempt
    if event.delivery:
        if event.delivery < record.delivery:
            return updated  # fenced: a late tracker whose delivery was superseded
        updated.delivery = event.delivery
    _apply(event, updated)
    updated.updated_at = event.at
    return updated


def _new_record(event: ev.JobCreated, seq: int) -> StatusRecord:
    return StatusRecord(
        job_id=event.job_id,
        name=event.name,
        owner=event.owner,
        status=JobState.created,
        stage="upload",
        message="waiting for the video",
        created_at=event.at,
        updated_at=event.at,
        last_event_seq=seq,
    )


def _queue(record: StatusRecord, event: ev.JobQueued) -> StatusRecord:
    if event.attempt <= record.attempt:
        return record
    return msgspec.structs.replace(
        record,
        status=JobState.queued,
        stage="queue",
        message="waiting for a tracker",
        attempt=event.attempt,
        delivery=0,
        progress=0.0,
        error=None,
        segments_found=0,
        clips_ready=0,
        shifts=[],
        has_results=False,
        eta_s=None,
        review_exported=record.review_revision,  # a new run abandons an unfinished re-export
        review_pending=False,
        updated_at=event.at,
    )


def _move(record: StatusRecord, state: JobState, stage: str, message: str) -> bool:
    """Move forward only; returns whether the move happened."""
    if record.status in TERMINAL_STATES or STATE_RANK[state] < STATE_RANK[record.status]:
        return False
    record.status, record.stage, record.message = state, stage, message
    return True


def _advance(record: StatusRecord, progress: float) -> None:
    record.progress = max(record.progress, round(min(1.0, progress), 4))


@singledispatch
def _apply(event: ev.Event, record: StatusRecord) -> None:
    raise TypeError(f"no transition for {type(event).__name__}")


@_apply.register
def _(event: ev.UploadStarted, record: StatusRecord) -> None:
    if record.status in PRE_RUN:
        record.status, record.stage, record.message, record.error = JobState.uploading, "upload", "uploading", None


@_apply.register
def _(event: ev.VideoUploaded, record: StatusRecord) -> None:
    if record.status in PRE_RUN:
        record.status, record.stage, record.message = JobState.uploaded, "upload", "video uploaded"
        record.video, record.proxy_ready = event.video, False


@_apply.register
def _(event: ev.UploadFailed, record: StatusRecord) -> None:
    # Before a run the client may simply upload again, so this returns to `created` with the reason.
    if record.status in PRE_RUN:
        record.status, record.stage, record.message = JobState.created, "upload", event.error.message
        record.error = event.error


@_apply.register
def _(event: ev.CancelRequested, record: StatusRecord) -> None:
    if record.status not in TERMINAL_STATES:
        record.status, record.stage, record.message = JobState.cancelled, record.stage, "cancelled"
        record.error = ErrorInfo(code="cancelled", message="cancelled by request")
        record.eta_s = None


@_apply.register
def _(event: ev.JobCancelled, record: StatusRecord) -> None:
    if record.status not in TERMINAL_STATES:
        record.status, record.message, record.eta_s = JobState.cancelled, "cancelled", None


@_apply.register
def _(event: ev.TrackingStarted, record: StatusRecord) -> None:
    _move(record, JobState.tracking, "track", f"tracking on {event.worker}")
    record.heartbeat_at = event.at


@_apply.register
def _(event: ev.TrackingProgress, record: StatusRecord) -> None:
    if record.status in TERMINAL_STATES:
        return
    _move(record, JobState.tracking, event.stage, f"tracking at {event.fps:.0f} fps")
    _advance(record, event.progress * TRACKING_SHARE)
    record.heartbeat_at = event.at
    record.eta_s = event.eta_s


@_apply.register
def _(event: ev.SegmentFound, record: StatusRecord) -> None:
    seg = event.segment
    if all(s.index != seg.index for s in record.shifts):
        record.shifts = sorted(
            [
                *record.shifts,
                ShiftSummary(index=seg.index, start_s=seg.start_s, end_s=seg.end_s, confidence=seg.confidence),
            ],
            key=lambda s: s.index,
        )
    record.segments_found = len(record.shifts)


@_apply.register
def _(event: ev.TrackingDone, record: StatusRecord) -> None:
    if _move(record, JobState.exporting, "export", "cutting clips and building the reel"):
        _advance(record, TRACKING_SHARE)
        record.eta_s = None
    review.merge_segments(record, event.segments)
    record.segments_found = len(event.segments)


@_apply.register
def _(event: ev.ClipReady, record: StatusRecord) -> None:
    # A clip for an older revision of a reviewed shift does not make the current one ready.
    record.shifts = [
        msgspec.structs.replace(s, clip_ready=True)
        if s.index == event.segment_index and s.revision == event.revision
        else s
        for s in record.shifts
    ]
    record.clips_ready = sum(1 for s in record.shifts if s.clip_ready)


@_apply.register
def _(event: ev.ExportDone, record: StatusRecord) -> None:
    state = JobState.done if event.shift_count else JobState.done_no_shifts
    if _move(record, state, "done", review.summary(event.shift_count, event.toi_s)):
        _advance(record, 1.0)
        record.has_results, record.eta_s = True, 0.0


@_apply.register
def _(event: ev.JobFailed, record: StatusRecord) -> None:
    if _move(record, JobState.failed, event.stage, event.error.message):
        record.error, record.eta_s = event.error, None


@_apply.register
def _(event: ev.ShiftEdited, record: StatusRecord) -> None:
    review.edit_shift(record, event)


@_apply.register
def _(event: ev.ReviewExported, record: StatusRecord) -> None:
    review.review_exported(record, event)
