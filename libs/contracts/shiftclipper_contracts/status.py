"""The job status record: what the projector writes to the status KV bucket and the API serves."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import msgspec


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobState(enum.StrEnum):
    created = "created"
    uploading = "uploading"
    uploaded = "uploaded"
    queued = "queued"
    tracking = "tracking"
    exporting = "exporting"
    done = "done"
    done_no_shifts = "done_no_shifts"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATES = frozenset({JobState.done, JobState.done_no_shifts, JobState.failed, JobState.cancelled})
ACTIVE_STATES = frozenset({JobState.queued, JobState.tracking, JobState.exporting})

STATE_RANK: dict[JobState, int] = {
    JobState.created: 0,
    JobState.uploading: 1,
    JobState.uploaded: 2,
    JobState.queued: 3,
    JobState.tracking: 4,
    JobState.exporting: 5,
    JobState.done: 6,
    JobState.done_no_shifts: 6,
    JobState.failed: 6,
    JobState.cancelled: 6,
}
"""Within one attempt a job only moves up this ranking; only a retry (a new attempt) restarts it."""


class ErrorInfo(msgspec.Struct):
    code: str
    """Stable machine-readable code, e.g. `video_unreadable`, `cancelled`, `internal`."""
    message: str


class VideoInfo(msgspec.Struct, kw_only=True):
    size: int
    duration_s: float
    fps: float
    width: int
    height: int
    codec: str
    filename: str = ""


class ShiftSummary(msgspec.Struct, kw_only=True):
    """A shift as shown while the job runs (the full record is in results.json)."""

    index: int
    start_s: float
    end_s: float
    confidence: float
    clip_ready: bool = False


class StatusRecord(msgspec.Struct, kw_only=True):
    job_id: str
    name: str
    owner: str
    """Name of the API key that created the job."""
    status: JobState
    stage: str = ""
    """What is happening now: upload, queue, decode, track, export, reel."""
    progress: float = 0.0
    """0..1, never goes backwards within an attempt."""
    message: str = ""
    error: ErrorInfo | None = None
    attempt: int = 0
    created_at: datetime
    updated_at: datetime
    heartbeat_at: datetime | None = None
    video: VideoInfo | None = None
    segments_found: int = 0
    clips_ready: int = 0
    eta_s: float | None = None
    shifts: list[ShiftSummary] = []
    has_results: bool = False
    last_event_seq: int = 0
    """Sequence of the last event applied; lets the gateway wait until its own write is visible."""
