"""Pure helpers: clip windows and the results.json document."""

from __future__ import annotations

from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.results import ClipInfo, DebugInfo, ReelInfo, Results, ShiftResult


def clip_window(segment: ev.Segment, spec: ev.ExportSpec) -> tuple[float, float]:
    """The clip's source interval: the shift plus pre/post roll (applied once), clamped to the video."""
    start = max(0.0, segment.start_s - spec.pre_roll_s)
    end = min(spec.video.duration_s, segment.end_s + spec.post_roll_s)
    return round(start, 3), round(max(end, start), 3)


def build_results(done: ev.TrackingDone, reel: tuple[str, float] | None) -> Results:
    shifts = []
    for segment in done.segments:
        start, end = clip_window(segment, done.export)
        shifts.append(
            ShiftResult(
                index=segment.index,
                start_s=round(segment.start_s, 3),
                end_s=round(segment.end_s, 3),
                duration_s=round(segment.end_s - segment.start_s, 3),
                confidence=round(segment.confidence, 3),
                clip=ClipInfo(key=names.clip_key(done.job_id, segment.index), start_s=start, end_s=end),
                thumb=names.thumb_key(done.job_id, segment.index),
            )
        )
    return Results(
        job_id=done.job_id,
        target=done.target,
        video=done.export.video,
        mode=done.mode,
        shifts=shifts,
        toi_s=round(sum(s.duration_s for s in shifts), 3),
        shift_count=len(shifts),
        reel=ReelInfo(key=reel[0], duration_s=round(reel[1], 3)) if reel else None,
        stats=done.stats,
        debug=DebugInfo(timeline_key=done.timeline_key, overlay_key=done.overlay_key),
    )
