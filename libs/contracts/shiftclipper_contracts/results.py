"""results.json: what `GET /jobs/{id}/results` returns and the exporter writes."""

from __future__ import annotations

import msgspec

from . import names
from .status import VideoInfo


class Target(msgspec.Struct, kw_only=True):
    number: str
    color: str
    opponent_color: str | None = None
    camera_mode: str


class TrackingStats(msgspec.Struct, kw_only=True):
    frames_decoded: int = 0
    frames_detected: int = 0
    ocr_reads: int = 0
    ocr_engine: str = ""
    """The jersey-number engine that read them (`ServiceConfig.ocr_engine`, or `rapidocr` where `paddleocr` was
    asked for and could not load)."""
    fps_processed: float = 0.0
    stage_seconds: dict[str, float] = {}


class ClipInfo(msgspec.Struct, kw_only=True):
    key: str
    url: str | None = None
    start_s: float
    end_s: float


class ShiftResult(msgspec.Struct, kw_only=True):
    index: int
    start_s: float
    end_s: float
    duration_s: float
    confidence: float
    period: int | None = None
    clip: ClipInfo | None = None
    thumb: str | None = None
    decision: str | None = None
    """Review decision: `accepted`, `rejected` (excluded from the reel, `toi_s` and `shift_count`) or
    None (not reviewed)."""
    revision: int = 0
    """0: the tracker's window; otherwise the review revision that set `start_s`/`end_s` (and names the
    re-cut clip and thumbnail)."""


class ReelInfo(msgspec.Struct, kw_only=True):
    key: str
    url: str | None = None
    duration_s: float


class DebugInfo(msgspec.Struct, kw_only=True):
    """Debug artefacts (object keys; artefact names are `debug/<file>`)."""

    timeline_key: str | None = None
    """Compact timeline of identity and shift decisions (JSON)."""
    overlay_key: str | None = None
    """Overlay video (boxes, track ids, reads, identity state); only when `debug_overlay` was asked."""


class ExportInfo(msgspec.Struct, kw_only=True):
    """How the clips were made (copied from the job's setup when it ran)."""

    pre_roll_s: float
    post_roll_s: float
    clip_mode: str
    reel: bool


def clip_window(
    start_s: float, end_s: float, pre_roll_s: float, post_roll_s: float, duration_s: float
) -> tuple[float, float]:
    """A clip's source interval: the shift plus pre/post roll (applied once), clamped to the video."""
    start = max(0.0, start_s - pre_roll_s)
    end = min(duration_s, end_s + post_roll_s)
    return round(start, 3), round(max(end, start), 3)


def shift_result(
    job_id: str,
    index: int,
    bounds: tuple[float, float],
    confidence: float,
    window: tuple[float, float],
    *,
    revision: int = 0,
    decision: str | None = None,
    url: str | None = None,
    period: int | None = None,
) -> ShiftResult:
    """One shift as results.json shows it: rounded times, the clip `window` and the revisioned clip and
    thumbnail keys. The exporter (writing results.json) and the gateway (answering a review) both use it."""
    start, end = bounds
    return ShiftResult(
        index=index,
        start_s=round(start, 3),
        end_s=round(end, 3),
        duration_s=round(end - start, 3),
        confidence=round(confidence, 3),
        period=period,
        clip=ClipInfo(key=names.clip_key(job_id, index, revision), url=url, start_s=window[0], end_s=window[1]),
        thumb=names.thumb_key(job_id, index, revision),
        decision=decision,
        revision=revision,
    )


class Results(msgspec.Struct, kw_only=True):
    job_id: str
    target: Target
    video: VideoInfo
    mode: str
    shifts: list[ShiftResult]
    toi_s: float
    shift_count: int
    reel: ReelInfo | None = None
    stats: TrackingStats
    debug: DebugInfo | None = None
    export: ExportInfo | None = None
    """Pre/post roll, clip mode and reel flag the clips were made with."""
