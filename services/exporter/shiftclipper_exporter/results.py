"""Pure helpers: clip windows and the results.json document (with a shift review applied)."""

from __future__ import annotations

from collections.abc import Mapping

from shiftclipper_contracts import events as ev
from shiftclipper_contracts.results import DebugInfo, ExportInfo, ReelInfo, Results, ShiftResult, shift_result
from shiftclipper_contracts.results import clip_window as _window
from shiftclipper_contracts.status import ShiftSummary

REJECTED = "rejected"


def clip_window(segment: ev.Segment, spec: ev.ExportSpec) -> tuple[float, float]:
    """The clip's source interval: the shift plus pre/post roll (applied once), clamped to the video."""
    return _window(segment.start_s, segment.end_s, spec.pre_roll_s, spec.post_roll_s, spec.video.duration_s)


def reviewed_segment(segment: ev.Segment, review: ShiftSummary | None) -> tuple[ev.Segment, int]:
    """The segment with a reviewer's bounds (when they were changed) and the revision naming its clip."""
    if review is None or not review.revision:
        return segment, 0
    moved = ev.Segment(index=segment.index, start_s=review.start_s, end_s=review.end_s, confidence=segment.confidence)
    return moved, review.revision


def reel_parts(done: ev.TrackingDone, review: Mapping[int, ShiftSummary]) -> list[tuple[int, int]]:
    """(index, revision) of the clips the reel joins: every shift not rejected, in order."""
    parts = []
    for segment in done.segments:
        shift = review.get(segment.index)
        if shift is None or shift.decision != REJECTED:
            parts.append((segment.index, reviewed_segment(segment, shift)[1]))
    return parts


def _shift(done: ev.TrackingDone, segment: ev.Segment, review: ShiftSummary | None) -> ShiftResult:
    segment, revision = reviewed_segment(segment, review)
    return shift_result(
        done.job_id, segment.index, (segment.start_s, segment.end_s), segment.confidence,
        clip_window(segment, done.export), revision=revision, decision=review.decision if review else None,
    )  # fmt: skip


def build_results(
    done: ev.TrackingDone, reel: tuple[str, float] | None, review: Mapping[int, ShiftSummary] | None = None
) -> Results:
    """results.json; rejected shifts stay listed (marked) but count in neither TOI nor shift count."""
    shifts = [_shift(done, segment, (review or {}).get(segment.index)) for segment in done.segments]
    counted = [s for s in shifts if s.decision != REJECTED]
    spec = done.export
    return Results(
        job_id=done.job_id,
        target=done.target,
        video=spec.video,
        mode=done.mode,
        shifts=shifts,
        toi_s=round(sum(s.duration_s for s in counted), 3),
        shift_count=len(counted),
        reel=ReelInfo(key=reel[0], duration_s=round(reel[1], 3)) if reel else None,
        stats=done.stats,
        debug=DebugInfo(timeline_key=done.timeline_key, overlay_key=done.overlay_key),
        export=ExportInfo(
            pre_roll_s=spec.pre_roll_s, post_roll_s=spec.post_roll_s, clip_mode=spec.clip_mode, reel=spec.reel
        ),
    )
