"""Shift review and the preview proxy in the status record. Pure, like the rest of the transitions.

A review never moves the state: a reviewed job stays `done` (terminal states stay final, and `run` /
`retry` keep their meaning); `stage` is `review` and `review_pending` is set while the exporter re-cuts.
"""

from __future__ import annotations

import math

import msgspec

from shiftclipper_contracts import events as ev
from shiftclipper_contracts.jobs import shift_times_problem
from shiftclipper_contracts.status import JobState, ShiftSummary, StatusRecord


def proxy_ready(record: StatusRecord, event: ev.ProxyReady) -> StatusRecord:
    """Not fenced by attempt (the preview belongs to the upload, not to a run), only by the upload:
    a proxy of a video that was replaced since does not count."""
    if record.video is not None and record.video == event.video:
        return msgspec.structs.replace(record, proxy_ready=True, updated_at=event.at)
    return record


def summary(shift_count: int, toi_s: float) -> str:
    return f"{shift_count} shift(s), {toi_s:.0f} s on ice" if shift_count else "no shifts found"


def edit_shift(record: StatusRecord, event: ev.ShiftEdited) -> None:
    """Apply a reviewer's edit in stream order. One that no longer fits (a concurrent edit moved the
    other bound) is dropped: the shift's `edit_seq` then is not this event's, and the gateway says 409."""
    pos = next((i for i, s in enumerate(record.shifts) if s.index == event.index), None)
    if record.status != JobState.done or pos is None:
        return
    shift = record.shifts[pos]
    start = shift.start_s if event.start_s is None else event.start_s
    end = shift.end_s if event.end_s is None else event.end_s
    if shift_times_problem(start, end, record.video.duration_s if record.video else math.inf):
        return
    moved = (start, end) != (shift.start_s, shift.end_s)
    decision = shift.decision if event.decision is None else event.decision
    edited = msgspec.structs.replace(shift, decision=decision, edit_seq=record.last_event_seq)
    if moved or decision != shift.decision:
        record.review_revision += 1
        record.review_pending = True
        record.stage, record.message = "review", f"re-exporting after the review of shift {event.index + 1}"
    if moved:
        edited = msgspec.structs.replace(
            edited, start_s=start, end_s=end, revision=record.review_revision, clip_ready=False
        )
    record.shifts = [*record.shifts[:pos], edited, *record.shifts[pos + 1 :]]
    record.clips_ready = sum(1 for s in record.shifts if s.clip_ready)


def review_exported(record: StatusRecord, event: ev.ReviewExported) -> None:
    if record.status != JobState.done:
        return
    record.review_exported = max(record.review_exported, event.revision)
    record.review_pending = record.review_exported < record.review_revision
    if event.error is not None:
        record.message = f"review export failed: {event.error.message}"
    elif not record.review_pending:
        record.stage, record.message = "done", summary(event.shift_count, event.toi_s) + " after review"


def merge_segments(record: StatusRecord, segments: list[ev.Segment]) -> None:
    """`tracking_done` lists every segment: add any whose own event was lost, so a review finds it."""
    known = {s.index for s in record.shifts}
    missing = [
        ShiftSummary(index=s.index, start_s=s.start_s, end_s=s.end_s, confidence=s.confidence)
        for s in segments
        if s.index not in known
    ]
    if missing:
        record.shifts = sorted([*record.shifts, *missing], key=lambda s: s.index)
