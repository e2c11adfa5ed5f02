"""The job definition (owner, name, setup, uploaded video) and the gateway's request/response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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
    tracking_in_flight: int
    workers: dict[str, int]
    dead_letters: int


class CleanupResult(msgspec.Struct):
    removed: list[str]
