"""Work messages and events. Events carry object-storage references, never video bytes.

Every event is published on `sc.events.<job_id>.<kind>` with a Nats-Msg-Id, so a retried publish
is stored once. `attempt` fences late writers: the projector ignores events of an older attempt, and
`delivery` fences a late tracker within one attempt.
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
    reel_titles: bool = False

    @classmethod
    def from_work(cls, work: TrackWork) -> ExportSpec:
        s = work.setup
        return cls(
            video_key=work.video_key, video=work.video, pre_roll_s=s.pre_roll_s,
            post_roll_s=s.post_roll_s, clip_mode=s.clip_mode.value, reel=s.reel, reel_titles=s.reel_titles,
        )  # fmt: skip


class _Event(msgspec.Struct, tag_field="kind", kw_only=True):
    job_id: str
    attempt: int = 0
    delivery: int = 0
    """Tracker events: the work message's delivery count, a fencing token within an attempt (a worker
    paused past AckWait loses the message to a later delivery, whose events then win). 0 elsewhere."""
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
    revision: int = 0
    """The shift's review revision this clip was cut for (0: the tracker's window)."""


class ExportDone(_Event, tag="export_done"):
    results_key: str
    shift_count: int
    toi_s: float
    reel_key: str | None


class JobFailed(_Event, tag="failed"):
    error: ErrorInfo
    stage: str
    clip_index: int | None = None
    """The clip (segment index) whose export failed, when one did; the error message names it too."""


class ProxyReady(_Event, tag="proxy_ready"):
    """The exporter made the low-resolution preview of an uploaded video (`names.proxy_key`)."""

    key: str
    video: VideoInfo
    """The upload it was made from: a proxy of a replaced upload does not count."""


class ShiftEdited(_Event, tag="shift_edited"):
    """A reviewer's change to one shift of a done job (PATCH /jobs/{id}/shifts/{index}). Fields left
    None are unchanged. The projector applies edits in stream order and ignores one that no longer fits
    (a concurrent edit made it invalid); the exporter then re-cuts what changed."""

    index: int
    decision: str | None = None
    start_s: float | None = None
    end_s: float | None = None


class ReviewExported(_Event, tag="review_exported"):
    """The exporter brought clips, reel and results.json up to review `revision` (or failed to)."""

    revision: int
    results_key: str
    shift_count: int
    toi_s: float
    reel_key: str | None
    error: ErrorInfo | None = None


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
    | ProxyReady
    | ShiftEdited
    | ReviewExported
)

_event_decoder = msgspec.json.Decoder(Event)


def decode_event(data: bytes) -> Event:
    return _event_decoder.decode(data)


def event_kind(event: Event) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]
