"""Work messages and events. Events carry object-storage references, never video bytes.

Every event is published on `sc.events.<job_id>.<kind>` with a Nats-Msg-Id, so a retried publish
is stored once. `attempt` fences late writers: the projector ignores events of an older attempt.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from .job_setup import JobSetup
from .results import Target, TrackingStats
from .status import ErrorInfo, VideoInfo, utcnow


class TrackWork(msgspec.Struct, kw_only=True):
    """One tracking attempt of one job, on the WorkQueue stream."""

    job_id: str
    attempt: int
    video_key: str
    video: VideoInfo
    setup: JobSetup


class Segment(msgspec.Struct, kw_only=True):
    """A shift (or, in `clips` mode, a visible window) of the target player."""

    index: int
    start_s: float
    end_s: float
    confidence: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class ExportSpec(msgspec.Struct, kw_only=True):
    """What the exporter needs to cut and assemble, copied from the job setup into each event."""

    video_key: str
    video: VideoInfo
    pre_roll_s: float
    post_roll_s: float
    clip_mode: str
    reel: bool

    @classmethod
    def from_work(cls, work: TrackWork) -> ExportSpec:
        s = work.setup
        return cls(
            video_key=work.video_key, video=work.video, pre_roll_s=s.pre_roll_s,
            post_roll_s=s.post_roll_s, clip_mode=s.clip_mode.value, reel=s.reel,
        )  # fmt: skip


class _Event(msgspec.Struct, tag_field="kind", kw_only=True):
    job_id: str
    attempt: int = 0
    at: datetime = msgspec.field(default_factory=utcnow)


class JobCreated(_Event, tag="created"):
    name: str
    owner: str


class UploadStarted(_Event, tag="upload_started"):
    pass


class VideoUploaded(_Event, tag="uploaded"):
    video: VideoInfo
    key: str


class UploadFailed(_Event, tag="upload_failed"):
    error: ErrorInfo


class JobQueued(_Event, tag="queued"):
    """A new attempt was queued (run or retry)."""


class CancelRequested(_Event, tag="cancel_requested"):
    pass


class JobDeleted(_Event, tag="deleted"):
    pass


class TrackingStarted(_Event, tag="tracking_started"):
    worker: str


class TrackingProgress(_Event, tag="tracking_progress"):
    progress: float
    """0..1 of the video processed."""
    stage: str = "track"
    eta_s: float | None = None
    fps: float = 0.0


class SegmentFound(_Event, tag="segment"):
    segment: Segment
    export: ExportSpec


class TrackingDone(_Event, tag="tracking_done"):
    segments: list[Segment]
    stats: TrackingStats
    export: ExportSpec
    target: Target
    mode: str
    timeline_key: str | None = None
    overlay_key: str | None = None


class ClipReady(_Event, tag="clip_ready"):
    segment_index: int
    key: str
    thumb_key: str | None


class ExportDone(_Event, tag="export_done"):
    results_key: str
    shift_count: int
    toi_s: float
    reel_key: str | None


class JobFailed(_Event, tag="failed"):
    error: ErrorInfo
    stage: str


class JobCancelled(_Event, tag="cancelled"):
    """A worker confirms it stopped work on a cancelled job."""


Event = (
    JobCreated
    | UploadStarted
    | VideoUploaded
    | UploadFailed
    | JobQueued
    | CancelRequested
    | JobDeleted
    | TrackingStarted
    | TrackingProgress
    | SegmentFound
    | TrackingDone
    | ClipReady
    | ExportDone
    | JobFailed
    | JobCancelled
)

_event_decoder = msgspec.json.Decoder(Event)


def decode_event(data: bytes) -> Event:
    return _event_decoder.decode(data)


def event_kind(event: Event) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]
