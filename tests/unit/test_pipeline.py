"""Frame-loop helpers of the tracker pipeline, and one slow end-to-end run on the practice clip."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from shiftclipper_tracker.core.identity import Decision
from shiftclipper_tracker.decode import DecodedFrame
from shiftclipper_tracker.pipeline import (
    STAGES,
    ReadCandidate,
    SpeedOptions,
    _Prefetch,
    frames_to_skip,
    pick_reads,
    read_order,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PRACTICE = SHARED / "media" / "nhl_closeup_CHI_practice_tiktok_11s.mp4"
TFLITE = SHARED / "models" / "yolov8n_int8.tflite"


def cand(tid: int, decided: bool = False, colour: float = 0.5, height: float = 0.3) -> ReadCandidate:
    return ReadCandidate(track_id=tid, decided=decided, colour_score=colour, height=height)


def test_read_order_undecided_then_colour_then_height_then_id() -> None:
    cands = [
        cand(1, decided=True, colour=1.0, height=0.9),
        cand(2, colour=0.4, height=0.9),
        cand(3, colour=0.8, height=0.2),
        cand(4, colour=0.8, height=0.5),
        cand(5, colour=0.8, height=0.5),
    ]
    assert [c.track_id for c in read_order(cands)] == [4, 5, 3, 2, 1]


def test_pick_reads_stops_asking_once_the_budget_is_full() -> None:
    asked: list[int] = []

    def needs(c: ReadCandidate) -> bool:
        asked.append(c.track_id)
        return c.track_id != 2  # track 2 is not due (e.g. read recently)

    cands = [cand(1, colour=0.9), cand(2, colour=0.8), cand(3, colour=0.7), cand(4, colour=0.6)]
    chosen = pick_reads(cands, 2, needs)
    assert [c.track_id for c in chosen] == [1, 3]
    assert asked == [1, 2, 3]  # track 4 never asked: the core's "yes means it runs" promise holds


def test_pick_reads_zero_budget_means_no_limit() -> None:
    cands = [cand(i) for i in range(1, 6)]
    assert len(pick_reads(cands, 0, lambda c: True)) == 5


def _frames(n: int, delay: float = 0.0) -> Iterator[DecodedFrame]:
    for i in range(n):
        time.sleep(delay)
        yield DecodedFrame(frame_index=i, t=i / 10, image=np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_prefetch_yields_everything_in_order(depth: int) -> None:
    with _Prefetch(_frames(20), depth) as it:
        assert [f.frame_index for f in it] == list(range(20))


def test_prefetch_reraises_producer_errors() -> None:
    def broken() -> Iterator[DecodedFrame]:
        yield from _frames(2)
        raise ValueError("corrupt")

    with pytest.raises(ValueError, match="corrupt"), _Prefetch(broken(), 2) as it:
        list(it)


def test_prefetch_stops_the_producer_when_the_consumer_leaves_early() -> None:
    before = threading.active_count()
    with _Prefetch(_frames(10_000, delay=0.001), 2) as it:
        next(it)
    time.sleep(0.05)
    assert threading.active_count() == before


@pytest.mark.skipif(not TFLITE.is_file(), reason="../shared model absent")
def test_models_read_with_the_offline_engine_where_paddleocr_cannot_load(tmp_path: Path) -> None:
    from shiftclipper_contracts.config import load_config
    from shiftclipper_tracker.pipeline import Models

    env = {"SHIFTCLIPPER_OCR_ENGINE": "paddleocr", "SHIFTCLIPPER_PADDLEOCR_MODEL_DIR": str(tmp_path / "none")}
    assert Models(load_config(env, model_path=str(TFLITE))).reader.engine == "rapidocr"  # what the stats report


@pytest.mark.slow
@pytest.mark.skipif(not (PRACTICE.is_file() and TFLITE.is_file()), reason="../shared (clip and model) absent")
@pytest.mark.parametrize("runtime", ["openvino", "litert"])
def test_practice_clip_one_shift_with_stage_times(runtime: str) -> None:
    from shiftclipper_contracts.config import load_config
    from shiftclipper_contracts.events import TrackWork
    from shiftclipper_contracts.job_setup import setup_from_obj
    from shiftclipper_tracker.decode import video_info
    from shiftclipper_tracker.pipeline import Hooks, Models, track_video

    models = Models(load_config({"SHIFTCLIPPER_DETECT_RUNTIME": runtime}, model_path=str(TFLITE)))
    assert models.detector.runtime == runtime
    info = video_info(str(PRACTICE))
    setup = setup_from_obj({"jersey_number": "19", "jersey_color": "red"})
    work = TrackWork(job_id="t", attempt=1, video_key="k", video=info, setup=setup)
    checkpoints: list[dict] = []
    # checkpoint_every_s=0: a checkpoint after every processed frame (the setting drives the cadence)
    hooks = Hooks(lambda s: None, lambda f, s: None, checkpoints.append, lambda: False, checkpoint_every_s=0.0)
    out = track_video(models, str(PRACTICE), work, hooks)
    assert len(checkpoints) == out.stats.frames_detected
    assert len(out.segments) == 1
    seg = out.segments[0]
    assert 0.3 <= seg.start_s <= 2.0
    assert seg.end_s >= 9.5
    assert set(STAGES) | {"track"} <= set(out.stats.stage_seconds)
    assert out.stats.frames_detected > 0 and out.stats.ocr_reads > 0 and out.stats.ocr_engine == "rapidocr"
    # a close-up: the target has another skater beside it nearly all the time, so (nearly) every frame is detected
    assert out.stats.frames_detected >= 0.8 * out.stats.frames_decoded


LOCKED, UNSURE = Decision(track_id=3, confidence=0.9), Decision(track_id=3, confidence=0.5)


@pytest.mark.parametrize(
    ("target", "crowded", "searching", "when_idle", "skip"),
    [
        (LOCKED, False, False, True, 2),  # target seen, locked, clear of others
        (LOCKED, True, False, True, 0),  # a skater beside it: ids may change hands
        (UNSURE, False, False, True, 0),  # target seen, identity not sure yet
        (None, False, True, True, 0),  # someone to read, or the target to re-link
        (None, False, False, True, 2),  # nothing in view hangs on the next frame
        (None, False, False, False, 0),
        (LOCKED, False, True, False, 2),
    ],
)
def test_frames_to_skip_only_while_nothing_is_searched(
    target: Decision | None, crowded: bool, searching: bool, when_idle: bool, skip: int
) -> None:
    core = SimpleNamespace(target=target, target_crowded=crowded, searching=searching)  # all it consults
    speed = SpeedOptions(settled_stride=3, locked_min_conf=0.75, stride_when_idle=when_idle)
    assert frames_to_skip(core, speed) == skip  # type: ignore[arg-type]


class _OnePlayerDetector:
    """Stands in for the person detector: one skater standing mid-frame on every frame (the frame loop under
    test, not detection). Counts the frames it detects, the batches they came in and the frames it coasts over."""

    def __init__(self) -> None:
        self.detected = self.coasted = 0
        self.batches: list[int] = []

    def reset(self, sample_fps: float = 30.0) -> None:
        self.detected = self.coasted = 0
        self.batches = []

    def detect_batch(self, images: list[np.ndarray], imgsz: int = 640, conf: float = 0.1) -> list:
        self.batches.append(len(images))
        return [f"detections {len(self.batches)}.{i}" for i in range(len(images))]

    def track(self, found: str) -> list:
        self.detected += 1
        return [(1, (0.4, 0.2, 0.6, 0.9), 0.9)]

    def coast(self) -> None:
        self.coasted += 1


class _AlwaysReads19:
    views = (0, 1, 2)
    engine = "always-19"

    def read_batch(self, crops: list, max_views: object = None) -> list:
        from shiftclipper_tracker.core.observations import NumberRead

        return [NumberRead(number="19", confidence=0.95) for _ in crops]


def _plain_video(path: Path, bgr: tuple[int, int, int]) -> tuple[Path, object]:
    """4 s at 10 fps of one colour filling the frame, and a tracking job for #19 in red on it."""
    import av

    from shiftclipper_contracts.events import TrackWork
    from shiftclipper_contracts.job_setup import setup_from_obj
    from shiftclipper_tracker.decode import video_info

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        image = np.zeros((240, 320, 3), np.uint8)
        image[:] = bgr
        for _ in range(40):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    setup = setup_from_obj({"jersey_number": "19", "jersey_color": "red"})
    return path, TrackWork(job_id="t", attempt=1, video_key="k", video=video_info(str(path)), setup=setup)


@pytest.fixture
def red_video(tmp_path: Path) -> tuple[Path, object]:
    """A red jersey filling the frame (`_plain_video`)."""
    return _plain_video(tmp_path / "red.mp4", (40, 30, 200))


def test_track_video_strides_while_only_other_colours_are_in_view_when_asked(tmp_path: Path) -> None:
    from shiftclipper_tracker.pipeline import Hooks, track_video

    video, work = _plain_video(tmp_path / "blue.mp4", (200, 60, 20))  # a navy skater: nobody to read or follow
    detector = _OnePlayerDetector()
    models = SimpleNamespace(detector=detector, reader=_AlwaysReads19(), speed=SpeedOptions(stride_when_idle=True))
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    idle = track_video(models, str(video), work, hooks)  # type: ignore[arg-type]
    assert idle.segments == [] and idle.stats.ocr_reads == 0
    assert detector.detected == 20 and detector.coasted == 20  # every other frame while nothing is searched
    track_video(models, str(video), work, hooks, speed=SpeedOptions())  # type: ignore[arg-type]
    assert detector.detected == 40 and detector.coasted == 0  # off by default (docs/benchmarks.md, session 16)


def test_track_video_coasts_every_other_frame_while_the_target_is_locked_and_clear(red_video) -> None:  # type: ignore[no-untyped-def]
    from shiftclipper_tracker.pipeline import Hooks, track_video

    video, work = red_video
    detector = _OnePlayerDetector()
    models = SimpleNamespace(detector=detector, reader=_AlwaysReads19(), speed=SpeedOptions())
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    out = track_video(models, str(video), work, hooks)  # type: ignore[arg-type]
    assert [(s.start_s, round(s.end_s)) for s in out.segments] == [(0.0, 4)]
    assert out.stats.frames_decoded == 40 and out.stats.ocr_engine == "always-19"  # results say who read
    # every other frame from when its reads settle it (2 x vote_threshold, repeats counted per pose: about 1.5 s)
    assert detector.coasted >= 12 and detector.detected + detector.coasted == 40
    assert out.stats.frames_detected == detector.detected and set(detector.batches) == {1}
    assert out.segments[0].confidence > 0.8  # coasted frames between sightings count as seen
    every = track_video(models, str(video), work, hooks, speed=SpeedOptions(settled_stride=1))  # type: ignore[arg-type]
    assert detector.coasted == 0 and every.stats.frames_detected == 40


def test_track_video_detects_in_batches_of_the_models_size(red_video) -> None:  # type: ignore[no-untyped-def]
    from shiftclipper_tracker.pipeline import Hooks, track_video

    video, work = red_video
    detector = _OnePlayerDetector()
    models = SimpleNamespace(detector=detector, reader=_AlwaysReads19(), speed=SpeedOptions(detect_batch=16))
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    batched = track_video(models, str(video), work, hooks)  # type: ignore[arg-type]
    assert detector.batches == [16, 16, 8] and detector.coasted == 0  # every frame, no stride
    assert batched.stats.frames_detected == batched.stats.frames_decoded == 40
    one_by_one = track_video(models, str(video), work, hooks, speed=SpeedOptions(settled_stride=1))  # type: ignore[arg-type]
    assert detector.batches == [1] * 40
    assert batched.segments == one_by_one.segments and batched.timeline == one_by_one.timeline
