"""The job definition (owner, name, setup, uploaded video) and the gateway's request/response bodies."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from .job_setup import JobSetup
from .status import StatusRecord, VideoInfo

JobName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class JobRecord(msgspec.Struct, kw_only=True):
    """What a job *is*; stored in the jobs KV bucket and written only by the gateway."""

    job_id: str
    name: str
    owner: str
    created_at: datetime
    setup: JobSetup | None = None
    video_key: str | None = None
    video: VideoInfo | None = None
    attempt: int = 0
    """Latest attempt queued; a compare-and-set on this record makes `run` race-free."""


class CreateJobRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: JobName = "untitled"
    setup: dict[str, Any] | None = None
    """A JobSetup object (v1 aliases accepted); may also be sent later with PUT /jobs/{id}/setup."""


MIN_SHIFT_S = 0.1
"""The shortest shift a review may leave (a shorter one would not hold a frame at common frame rates)."""


class ShiftEdit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`PATCH /jobs/{id}/shifts/{index}`: review one shift of a done job. A null field is left as it is.

    `start_s`/`end_s` are the shift's bounds in seconds of the video (pre/post roll is added to the
    clip as before); they must satisfy 0 <= start_s, start_s + MIN_SHIFT_S <= end_s <= video duration.
    A rejected shift stays in results.json (marked) but leaves the reel, `toi_s` and `shift_count`."""

    decision: Literal["accepted", "rejected"] | None = None
    start_s: float | None = None
    end_s: float | None = None


def shift_times_problem(start_s: float, end_s: float, duration_s: float) -> tuple[str, str] | None:
    """(field, reason) when reviewed shift bounds break ShiftEdit's rule, else None. The gateway answers
    400 with it; the projector uses it again to drop an edit a concurrent one made invalid."""
    if not math.isfinite(start_s) or start_s < 0:
        return "start_s", "start_s must be a number >= 0"
    if not math.isfinite(end_s) or end_s > duration_s + 1e-3:
        return "end_s", f"end_s must be at most the video's duration ({duration_s:.3f} s)"
    if end_s - start_s < MIN_SHIFT_S - 1e-9:
        return "end_s", f"end_s must be at least {MIN_SHIFT_S} s after start_s ({start_s:.3f} s)"
    return None


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorBody(msgspec.Struct):
    """Every error response: `{"error": {"code", "message", "field"}}`."""

    error: ErrorDetail


class JobList(msgspec.Struct):
    jobs: list[StatusRecord]
    next_cursor: str | None = None


class UploadUrl(msgspec.Struct):
    url: str
    method: str
    key: str
    expires_in_s: int


class Stats(msgspec.Struct):
    jobs_by_status: dict[str, int]
    queue_depth: int
    """Tracking attempts queued and not yet taken by a tracker (all owners)."""
    tracking_in_flight: int
    """Attempts a tracker is working on now."""
    workers: dict[str, int]
    """Idle pull requests per worker kind: a waiting worker keeps one open."""
    dead_letters: int
    tracker_connected: bool
    """Whether any tracker is waiting for work or working. False: queued jobs wait until a tracker starts (the
    web UI and the CLI say so rather than show "waiting" with no end)."""


class CleanupResult(msgspec.Struct):
    removed: list[str]
