"""Video in, segments out: decode -> detect+track -> torso colour -> OCR where it matters -> core.

Synchronous (runs in a worker thread); talks to the outside only through the callbacks it is given.
Models are created once per process by `Models` and reused for every job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_contracts.events import Segment, TrackWork
from shiftclipper_contracts.results import TrackingStats

from .core.engine import TrackingCore
from .core.observations import FrameObs, TrackObs
from .decode import DecodedFrame, iter_frames
from .detect import PersonTracker
from .ocr import JerseyReader
from .torso import player_crop, torso_lab

DECODE_MAX_HEIGHT = 720
"""Frames are downscaled to this many rows while decoding: enough for jersey digits, cheap to convert."""
CHECKPOINT_EVERY_S = 10.0
PROGRESS_EVERY_S = 1.0


class Models:
    """Detector and jersey reader, loaded once per worker process."""

    def __init__(self, config: ServiceConfig) -> None:
        self.detector = PersonTracker(config.model_path, config.device or None)
        self.reader = JerseyReader(engine=config.ocr_engine)


@dataclass
class Hooks:
    on_segment: Callable[[Segment], None]
    on_progress: Callable[[float, float], None]
    """(fraction of video done, processed video-seconds per wall-second)."""
    on_checkpoint: Callable[[dict[str, Any]], None]
    should_stop: Callable[[], bool]


class Cancelled(Exception):
    pass


@dataclass
class Outcome:
    segments: list[Segment]
    stats: TrackingStats
    timeline: list[dict[str, Any]]


@dataclass
class _Run:
    core: TrackingCore
    stats: TrackingStats = field(default_factory=TrackingStats)
    segments: list[Segment] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0
    last_checkpoint: float = field(default_factory=time.monotonic)


def track_video(
    models: Models, src: str, work: TrackWork, hooks: Hooks, checkpoint: dict[str, Any] | None = None
) -> Outcome:
    """Run the whole video (or the rest of it, from `checkpoint`) through the core."""
    tuning = work.setup.effective_tuning()
    fps, duration = work.video.fps, work.video.duration_s
    if checkpoint:
        core = TrackingCore.restore(work.setup, tuning, fps, checkpoint["core"])
        run = _Run(core, segments=msgspec.convert(checkpoint["segments"], list[Segment]))
    else:
        run = _Run(TrackingCore(work.setup, tuning, fps))
    start_frame = (run.core.last_frame_index or -1) + 1
    every_s = 1.0 / min(fps, tuning.detect_fps)
    models.detector.reset(sample_fps=1.0 / every_s)
    for frame in iter_frames(src, every_s, DECODE_MAX_HEIGHT, start_frame=start_frame):
        if hooks.should_stop():
            raise Cancelled(work.job_id)
        _process_frame(models, run, frame, tuning.detect_imgsz, tuning.det_conf, hooks)
        _report(run, frame.t, duration, hooks)
    for segment in run.core.finish(duration):
        run.segments.append(segment)
        hooks.on_segment(segment)
    wall = time.monotonic() - run.started
    run.stats.fps_processed = round(run.stats.frames_decoded / wall, 2) if wall > 0 else 0.0
    run.stats.stage_seconds["track"] = round(wall, 3)
    timeline = [_to_builtins(entry) for entry in run.core.timeline]
    return Outcome(run.segments, run.stats, timeline)


def _process_frame(models: Models, run: _Run, frame: DecodedFrame, imgsz: int, conf: float, hooks: Hooks) -> None:
    people = models.detector.update(frame.image, imgsz=imgsz, conf=conf)
    run.stats.frames_decoded += 1
    run.stats.frames_detected += 1
    tracks = [
        TrackObs(track_id=tid, box=box, det_conf=score, torso_lab=torso_lab(frame.image, box))
        for tid, box, score in people
    ]
    wanted = [t for t in tracks if run.core.needs_read(t.track_id, frame.t, t.torso_lab)]
    crops = [player_crop(frame.image, t.box) for t in wanted]
    legible = [(t, c) for t, c in zip(wanted, crops, strict=True) if c is not None]
    if legible:
        reads = models.reader.read_batch([c for _, c in legible])
        run.stats.ocr_reads += len(legible)
        for (track, _), read in zip(legible, reads, strict=True):
            track.read = read
    for segment in run.core.update(FrameObs(frame_index=frame.frame_index, t=frame.t, tracks=tracks)):
        run.segments.append(segment)
        hooks.on_segment(segment)


def _report(run: _Run, t: float, duration: float, hooks: Hooks) -> None:
    now = time.monotonic()
    if now - run.last_progress >= PROGRESS_EVERY_S:
        run.last_progress = now
        speed = t / max(now - run.started, 1e-6)
        hooks.on_progress(min(1.0, t / duration) if duration > 0 else 0.0, speed)
    if now - run.last_checkpoint >= CHECKPOINT_EVERY_S:
        run.last_checkpoint = now
        hooks.on_checkpoint({"core": run.core.snapshot(), "segments": [_to_builtins(s) for s in run.segments]})


def _to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)
