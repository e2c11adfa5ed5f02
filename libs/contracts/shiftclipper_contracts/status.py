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
    decision: str | None = None
    """Review decision: `accepted`, `rejected` (left out of the reel and the TOI) or None (not reviewed)."""
    revision: int = 0
    """Review revision of the shift's window: 0 is the tracker's; a trim sets it to the job's
    `review_revision` at that edit, which names the re-cut clip (`clips/003.r4.mp4`)."""
    edit_seq: int = 0
    """Stream sequence of the last review edit applied to this shift (the gateway's proof its edit won)."""


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
    delivery: int = 0
    """Highest tracker delivery of this attempt seen so far: tracker events of a lower one are fenced."""
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
    proxy_ready: bool = False
    """The low-resolution preview (`GET /jobs/{id}/artifacts/proxy.mp4`) of the current upload exists."""
    review_revision: int = 0
    """Counts applied shift edits over the job's life (never reset, so revisioned keys never repeat)."""
    review_exported: int = 0
    """The review revision the exporter's clips, reel and results.json reflect."""
    review_pending: bool = False
    """A shift edit is being exported; the status stays `done` meanwhile (`stage` is `review`)."""
