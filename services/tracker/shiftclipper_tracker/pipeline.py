"""Video in, segments out: decode -> detect+track -> torso colour -> OCR where it matters -> core.

Synchronous (runs in a worker thread); talks to the outside only through the callbacks it is given.
Models are created once per process by `Models` and reused for every job.

Speed (SPEC §5, 2-core CPU): frames are decoded ahead on a background thread (FFmpeg, the swscale
conversion, LiteRT and ONNX Runtime all release the GIL, so decoding overlaps inference); OCR runs on at
most `SpeedOptions.ocr_crops_per_frame` crops a frame, the ones most likely to change a decision first; and
tracks whose vote is already decided are re-checked with one recogniser view instead of the full set.
On a GPU the detector takes `SpeedOptions.detect_batch` sampled frames a forward pass instead of one.
Per-stage wall seconds go to `TrackingStats.stage_seconds`.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shiftclipper_contracts.config import CUDA_DETECT_BATCH, DEFAULT_CHECKPOINT_EVERY_S, ServiceConfig
from shiftclipper_contracts.events import Segment, TrackWork
from shiftclipper_contracts.results import TrackingStats

from .core.engine import TrackingCore
from .core.observations import FrameObs, TrackObs
from .decode import DecodedFrame, iter_frames
from .detect import Detections, PersonTracker
from .ocr import JerseyReader
from .overlay import OverlayWriter, draw_overlay
from .torso import player_crop, torso_lab

DECODE_MAX_HEIGHT = 720
"""Frames are downscaled to this many rows while decoding: enough for jersey digits, cheap to convert."""
PROGRESS_EVERY_S = 1.0
STAGES = ("decode", "decode_wait", "detect", "colour", "ocr", "core")
"""Keys of `stage_seconds` (plus "track", the whole run). "decode" runs on its own thread, overlapped with the
rest; "decode_wait" is how long the frame loop waited for it."""


@dataclass(frozen=True, slots=True)
class SpeedOptions:
    decode_ahead: int = 3
    """Frames decoded ahead on a background thread; 0 decodes inline."""
    ocr_crops_per_frame: int = 2
    """At most this many crops are read a frame (0: no limit). Tracks not asked wait for a later frame."""
    decided_views: int = 1
    """Recogniser views for a re-check of a track whose vote is already decided (0: all views)."""
    settled_stride: int = 2
    """While nothing hangs on the next frame, only every `settled_stride`-th sampled frame is detected and fed to
    the core (1: every frame); the skipped ones only advance the tracker's motion model (`PersonTracker.coast`).
    Settled: the target seen, locked (confidence >= `locked_min_conf`) and with no skater close beside it
    (`TrackingCore.target_crowded`), or (`stride_when_idle`) no target in view and nothing searched
    (`TrackingCore.searching`).
    While an identity is open, the pipeline runs at the full rate. 3 moved the practice clip's shift end from
    10.6 s to 11.1 s (before the crowding rule), so it is 2."""
    locked_min_conf: float = 0.75
    detect_batch: int = 1
    """Sampled frames the detector takes in one forward pass (`ServiceConfig.detect_batch`, resolved by `Models`).
    Above 1 every sampled frame is detected and `settled_stride` is not used: the frames of a batch are detected
    before the core has seen the first of them, and a GPU detects a batch in little more than one frame's time."""
    stride_when_idle: bool = False
    """Also stride while the target is not in view and nothing is searched. Off: on eight benchmark games (session
    16, whole pipeline) it saved 7-26 % of the detections and kept every shift, but the other reads it takes let a
    #14 read "4" lock on seed 8 (precision 1.00 -> 0.80) as it kept one from locking on seed 10: the #14 pattern is
    a coin toss at the reader's accuracy, and with it on one game fewer meets every target (docs/benchmarks.md)."""


NAIVE = SpeedOptions(decode_ahead=0, ocr_crops_per_frame=0, decided_views=0, settled_stride=1)
"""The straightforward loop, for benchmarks: inline decode, every wanted crop read with every view."""


class Models:
    """Detector and jersey reader, loaded once per worker process, and the speed options that suit them."""

    def __init__(self, config: ServiceConfig) -> None:
        self.detector = PersonTracker(config.model_path, config.device or None, runtime=config.detect_runtime)
        on_gpu = self.detector.device.startswith("cuda")
        self.reader = JerseyReader(
            engine=config.ocr_engine,
            paddle_model_dir=config.paddleocr_model_dir,
            paddle_device=self.detector.device.replace("cuda", "gpu") if on_gpu else "cpu",  # Paddle's names
        )
        self.speed = SpeedOptions(detect_batch=config.detect_batch or (CUDA_DETECT_BATCH if on_gpu else 1))


@dataclass
class Hooks:
    on_segment: Callable[[Segment], None]
    on_progress: Callable[[float, float], None]
    """(fraction of video done, processed video-seconds per wall-second)."""
    on_checkpoint: Callable[[dict[str, Any]], None]
    should_stop: Callable[[], bool]
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    overlay: OverlayWriter | None = None
    """When set, every processed frame is drawn into it (the `debug_overlay` setting)."""


class Cancelled(Exception):
    pass


@dataclass
class Outcome:
    segments: list[Segment]
    stats: TrackingStats
    timeline: list[dict[str, Any]]
    overlay_key: str | None = None
    """Object key of the debug overlay video, once the worker has stored it."""


@dataclass
class _Run:
    core: TrackingCore
    stats: TrackingStats = field(default_factory=TrackingStats)
    segments: list[Segment] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0
    last_checkpoint: float = field(default_factory=time.monotonic)


def track_video(
    models: Models,
    src: str,
    work: TrackWork,
    hooks: Hooks,
    checkpoint: dict[str, Any] | None = None,
    speed: SpeedOptions | None = None,
) -> Outcome:
    """Run the whole video (or the rest of it, from `checkpoint`) through the core, with `speed` (default: the
    models' own, `Models.speed`)."""
    speed = speed or models.speed
    tuning = work.setup.effective_tuning()
    fps, duration = work.video.fps, work.video.duration_s
    if checkpoint:
        core = TrackingCore.restore(work.setup, tuning, fps, checkpoint["core"])
        run = _Run(core, segments=msgspec.convert(checkpoint["segments"], list[Segment]))
    else:
        run = _Run(TrackingCore(work.setup, tuning, fps))
    run.stats.stage_seconds = dict.fromkeys(STAGES, 0.0)
    run.stats.ocr_engine = models.reader.engine
    start_frame = (run.core.last_frame_index or -1) + 1
    every_s = 1.0 / min(fps, tuning.detect_fps)
    models.detector.reset(sample_fps=1.0 / every_s)
    frames = _timed(iter_frames(src, every_s, DECODE_MAX_HEIGHT, start_frame=start_frame), run.stats, "decode")
    with _Prefetch(frames, max(speed.decode_ahead, speed.detect_batch)) as ahead:
        for frame, found in _detected(models, run, ahead, tuning.detect_imgsz, tuning.det_conf, speed):
            if hooks.should_stop():
                raise Cancelled(work.job_id)
            _process_frame(models, run, frame, found, speed, hooks)
            _report(run, frame.t, duration, hooks)
    for segment in run.core.finish(duration):
        run.segments.append(segment)
        hooks.on_segment(segment)
    wall = time.monotonic() - run.started
    run.stats.fps_processed = round(run.stats.frames_decoded / wall, 2) if wall > 0 else 0.0
    run.stats.stage_seconds = {k: round(v, 3) for k, v in run.stats.stage_seconds.items()}
    run.stats.stage_seconds["track"] = round(wall, 3)
    timeline = [_to_builtins(entry) for entry in run.core.timeline]
    return Outcome(run.segments, run.stats, timeline)


def _detected(
    models: Models, run: _Run, frames: Iterator[DecodedFrame], imgsz: int, conf: float, speed: SpeedOptions
) -> Iterator[tuple[DecodedFrame, Detections]]:
    """The sampled frames to process, each with its person detections, detected `speed.detect_batch` at a time.
    Frames that `frames_to_skip` names (asked after the core has taken the previous frame) are not detected: the
    person tracker coasts over them."""
    skip = 0
    while batch := _take(frames, max(1, speed.detect_batch), run.stats):
        if skip > 0:
            skip -= 1
            models.detector.coast()
            continue
        t0 = time.perf_counter()
        found = models.detector.detect_batch([frame.image for frame in batch], imgsz=imgsz, conf=conf)
        _add(run.stats, "detect", t0)
        yield from zip(batch, found, strict=True)
        skip = frames_to_skip(run.core, speed)


def _take(frames: Iterator[DecodedFrame], n: int, stats: TrackingStats) -> list[DecodedFrame]:
    """Up to `n` next frames (fewer at the end of the video), counted as decoded."""
    t0 = time.perf_counter()
    batch = list(itertools.islice(frames, n))
    _add(stats, "decode_wait", t0)
    stats.frames_decoded += len(batch)
    return batch


def frames_to_skip(core: TrackingCore, speed: SpeedOptions) -> int:
    """How many sampled frames to leave undetected after this one: `settled_stride - 1` while the target is seen,
    locked and clear of other skaters (a crossing needs every frame to see ids change hands), or (with
    `stride_when_idle`) while it is not in view and nothing is being searched; else none. None either while
    frames are detected in batches (`SpeedOptions.detect_batch`)."""
    if speed.detect_batch > 1:
        return 0
    target = core.target
    if target is not None:
        settled = target.confidence >= speed.locked_min_conf and not core.target_crowded
    else:
        settled = speed.stride_when_idle and not core.searching
    return speed.settled_stride - 1 if settled else 0


@dataclass(frozen=True, slots=True)
class ReadCandidate:
    """What decides how urgently a track wants OCR on this frame."""

    track_id: int
    decided: bool
    """Its vote is already decided by a wide margin (a read is only a re-check for id switches)."""
    colour_score: float
    """0..1 match of its torso colour to the jersey colour."""
    height: float
    """Box height as a fraction of the frame: taller crops read better."""


def read_order(candidates: list[ReadCandidate]) -> list[ReadCandidate]:
    """Undecided tracks before re-checks; then better colour match, then taller box; ties by track id."""
    return sorted(candidates, key=lambda c: (c.decided, -round(c.colour_score, 3), -c.height, c.track_id))


def pick_reads(
    candidates: list[ReadCandidate], budget: int, needs_read: Callable[[ReadCandidate], bool]
) -> list[ReadCandidate]:
    """Ask `needs_read` in `read_order` until `budget` tracks said yes (0: no limit). Tracks after that are
    not asked at all, so the core's promise (a yes means OCR runs) holds and they stay due next frame."""
    chosen: list[ReadCandidate] = []
    for cand in read_order(candidates):
        if budget and len(chosen) >= budget:
            break
        if needs_read(cand):
            chosen.append(cand)
    return chosen


def _process_frame(
    models: Models, run: _Run, frame: DecodedFrame, found: Detections, speed: SpeedOptions, hooks: Hooks
) -> None:
    t0 = time.perf_counter()
    people = models.detector.track(found)
    t0 = _add(run.stats, "detect", t0)
    run.stats.frames_detected += 1
    tracks = {
        tid: TrackObs(track_id=tid, box=box, det_conf=score, torso_lab=torso_lab(frame.image, box))
        for tid, box, score in people
    }
    t0 = _add(run.stats, "colour", t0)
    voter = run.core.voter
    candidates = []
    for tid, obs in tracks.items():
        known = voter.state.tracks.get(tid)
        lab = known.lab if known is not None and known.lab is not None else obs.torso_lab
        decided = known is not None and voter.settled(known)
        candidates.append(ReadCandidate(tid, decided, voter.color_score(lab), obs.box[3] - obs.box[1]))
    wanted = pick_reads(
        candidates,
        speed.ocr_crops_per_frame,
        lambda c: run.core.needs_read(c.track_id, frame.t, tracks[c.track_id].torso_lab, tracks[c.track_id].box),
    )
    legible = []
    for cand in wanted:
        crop = player_crop(frame.image, tracks[cand.track_id].box)
        if crop is not None:
            legible.append((cand, crop))
    if legible:
        all_views = len(models.reader.views)
        views = [speed.decided_views if c.decided and speed.decided_views else all_views for c, _ in legible]
        reads = models.reader.read_batch([crop for _, crop in legible], max_views=views)
        run.stats.ocr_reads += len(legible)
        for (cand, _), read in zip(legible, reads, strict=True):
            tracks[cand.track_id].read = read
    t0 = _add(run.stats, "ocr", t0)
    for segment in run.core.update(FrameObs(frame_index=frame.frame_index, t=frame.t, tracks=list(tracks.values()))):
        run.segments.append(segment)
        hooks.on_segment(segment)
    t0 = _add(run.stats, "core", t0)
    if hooks.overlay is not None:
        _draw(hooks.overlay, run.core, frame, list(tracks.values()))
        _add(run.stats, "overlay", t0)


def _draw(overlay: OverlayWriter, core: TrackingCore, frame: DecodedFrame, tracks: list[TrackObs]) -> None:
    voter = core.voter
    team = {o.track_id for o in tracks if (tr := voter.state.tracks.get(o.track_id)) and tr.color_score > 0}
    target = core.target
    who = f"target track {target.track_id} ({target.confidence:.2f})" if target else "target not identified"
    banner = f"{frame.t:7.2f}s  {core.machine.state.state.value}  {who}"
    overlay.add(draw_overlay(frame.image, tracks, target, team, banner), frame.t)


def _add(stats: TrackingStats, stage: str, t0: float) -> float:
    """Add the time since `t0` to `stage`; return now."""
    now = time.perf_counter()
    stats.stage_seconds[stage] = stats.stage_seconds.get(stage, 0.0) + now - t0
    return now


def _timed(frames: Iterator[DecodedFrame], stats: TrackingStats, stage: str) -> Iterator[DecodedFrame]:
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        _add(stats, stage, t0)
        if frame is None:
            return
        yield frame


class _Prefetch:
    """Runs an iterator on a daemon thread, at most `depth` items ahead (depth 0: inline). Errors are re-raised
    in the consumer; leaving the `with` block stops the producer."""

    _END = object()

    def __init__(self, items: Iterator[DecodedFrame], depth: int) -> None:
        self._items = items
        self._depth = depth
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Iterator[DecodedFrame]:
        if self._depth <= 0:
            return self._items
        self._thread = threading.Thread(target=self._produce, name="decode-ahead", daemon=True)
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(0.05)
        close = getattr(self._items, "close", None)
        if close is not None and self._thread is None:
            close()

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    break
            self._put(self._END)
        except BaseException as e:  # handed to the consumer
            self._put(e)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _consume(self) -> Iterator[DecodedFrame]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]


def _report(run: _Run, t: float, duration: float, hooks: Hooks) -> None:
    now = time.monotonic()
    if now - run.last_progress >= PROGRESS_EVERY_S:
        run.last_progress = now
        speed = t / max(now - run.started, 1e-6)
        hooks.on_progress(min(1.0, t / duration) if duration > 0 else 0.0, speed)
    if now - run.last_checkpoint >= hooks.checkpoint_every_s:
        run.last_checkpoint = now
        hooks.on_checkpoint({"core": run.core.snapshot(), "segments": [_to_builtins(s) for s in run.segments]})


def _to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)
