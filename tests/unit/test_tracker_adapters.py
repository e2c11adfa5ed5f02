"""Tracker adapters: PyAV decoding, torso colour/crops, and the YOLO + ByteTrack person tracker."""

from __future__ import annotations

import math
import socket
import subprocess
import wave
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from shiftclipper_tracker.decode import DecodedFrame, VideoError, iter_frames, video_info
from shiftclipper_tracker.torso import bgr_to_lab, player_crop, torso_crop, torso_lab

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
TFLITE = SHARED / "models" / "yolov8n_int8.tflite"
PRACTICE = SHARED / "media" / "nhl_closeup_CHI_practice_tiktok_11s.mp4"

FPS = 10
N_FRAMES = 60
W, H = 320, 240
GOP = 10


BITS = 6
"""The frame number is drawn as 6 black/white blocks along the bottom, to identify decoded pictures."""


ENCODER_OPTIONS = {
    # Non-reference B-frames, as in most broadcast files, so that skipping unused frames is exercised.
    "libx264": {"preset": "veryfast", "crf": "10", "bf": "2", "sc_threshold": "0", "x264-params": "b-pyramid=none"},
    "libx265": {"preset": "ultrafast", "crf": "10", "x265-params": "bframes=2:b-pyramid=0:log-level=error"},
    "libvpx-vp9": {"crf": "10", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    # AVI has no presentation times: with B-frames FFmpeg itself times the first picture one frame late.
    "mpeg4": {"b": "4M", "bf": "0"},
}


def _make_video(
    path: Path, n: int = N_FRAMES, fps: int = FPS, size: tuple[int, int] = (W, H), codec: str = "libx264"
) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.options = ENCODER_OPTIONS[codec]
        for i in range(n):
            img = np.full((size[1], size[0], 3), 128, np.uint8)
            block = size[0] // BITS
            for bit in range(BITS):
                img[-block:, bit * block : (bit + 1) * block] = 255 if i >> bit & 1 else 0
            img[: size[1] // 4, : size[0] // 4] = (0, 0, 255)  # a red corner marks the top-left (orientation)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_video(tmp_path_factory.mktemp("video") / "small.mp4")


def _frame_number(frame: DecodedFrame) -> int:
    h, w = frame.image.shape[:2]
    block = w // BITS
    centres = [frame.image[h - block // 2, bit * block + block // 2].mean() for bit in range(BITS)]
    return sum(1 << bit for bit, v in enumerate(centres) if v > 128)


# --------------------------------------------------------------------------------------------- decode


def test_video_info(video: Path) -> None:
    info = video_info(str(video))
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.duration_s == pytest.approx(N_FRAMES / FPS, abs=0.11)
    assert info.codec == "h264"
    assert info.size == video.stat().st_size
    assert info.filename == "small.mp4"


@pytest.mark.parametrize("every_s", [0.3, 0.25, 1.0])
def test_sampling_interval_and_timestamps(video: Path, every_s: float) -> None:
    frames = list(iter_frames(str(video), every_s, None))
    expected = [math.ceil(k * every_s * FPS - 1e-9) for k in range(math.ceil(N_FRAMES / FPS / every_s))]
    assert [f.frame_index for f in frames] == expected
    for f in frames:
        assert f.t == pytest.approx(f.frame_index / FPS, abs=1e-3)
        assert _frame_number(f) == f.frame_index  # the right picture, not just the right label
        assert f.image.dtype == np.uint8 and f.image.shape == (H, W, 3)


def test_every_frame_when_interval_is_zero(video: Path) -> None:
    frames = list(iter_frames(str(video), 0.0, None))
    assert [f.frame_index for f in frames] == list(range(N_FRAMES))


def test_downscale_and_never_upscale(video: Path) -> None:
    small = next(iter_frames(str(video), 1.0, 120))
    assert small.image.shape == (120, 160, 3)
    # Top-left stays red after the downscale (the conversion kept the orientation and BGR order).
    b, g, r = small.image[5, 5]
    assert r > 200 and g < 60 and b < 60
    same = next(iter_frames(str(video), 1.0, 480))
    assert same.image.shape == (H, W, 3)


@pytest.mark.parametrize("start", [30, 31, 37, 1])
def test_resume_from_start_frame(video: Path, start: int) -> None:
    full = [f.frame_index for f in iter_frames(str(video), 0.3, 120)]
    resumed = list(iter_frames(str(video), 0.3, 120, start_frame=start))
    assert [f.frame_index for f in resumed] == [i for i in full if i >= start]
    assert all(_frame_number(f) == f.frame_index for f in resumed)


def test_skipping_unused_frames_changes_nothing(video: Path) -> None:
    with av.open(str(video)) as c:
        stream = c.streams.video[0]
        stream.codec_context.skip_frame = "NONREF"
        assert sum(1 for _ in c.decode(stream)) < N_FRAMES  # the fixture does have non-reference frames
    for every_s, start in ((0.3, 0), (0.5, 13), (0.0, 0)):
        fast = list(iter_frames(str(video), every_s, 120, start, skip_unused=True))
        slow = list(iter_frames(str(video), every_s, 120, start, skip_unused=False))
        assert [f.frame_index for f in fast] == [f.frame_index for f in slow]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(fast, slow, strict=True))


@pytest.mark.parametrize(
    ("name", "codec", "codec_name"),
    [
        ("phone.mov", "libx265", "hevc"),
        ("camera.mkv", "libx264", "h264"),
        ("livebarn.ts", "libx264", "h264"),
        ("broadcast.ts", "libx265", "hevc"),
        ("upload.webm", "libvpx-vp9", "vp9"),
        ("old.avi", "mpeg4", "mpeg4"),
    ],
)
def test_other_containers_and_codecs_give_the_same_frames_and_times(
    tmp_path: Path, name: str, codec: str, codec_name: str
) -> None:
    """The gateway takes mp4/mov/mkv/ts/webm: each must give the pictures at the same times, counted from the
    video's first frame (an MPEG-TS clock starts past zero: here 0.1 s, 1.4 s from many encoders)."""
    path = str(_make_video(tmp_path / name, codec=codec))
    info = video_info(path)
    assert (info.width, info.height, info.codec) == (W, H, codec_name)
    assert info.fps == pytest.approx(FPS) and info.duration_s == pytest.approx(N_FRAMES / FPS, abs=0.11)
    frames = list(iter_frames(path, 0.5, None))
    assert [f.frame_index for f in frames] == [_frame_number(f) for f in frames] == list(range(0, N_FRAMES, 5))
    assert [f.t for f in frames] == pytest.approx([i / FPS for i in range(0, N_FRAMES, 5)], abs=1e-3)
    resumed = list(iter_frames(path, 0.5, None, start_frame=33))
    assert [f.frame_index for f in resumed] == [_frame_number(f) for f in resumed] == list(range(35, N_FRAMES, 5))


def test_a_4k_video_is_downscaled_while_decoding(tmp_path: Path) -> None:
    path = str(_make_video(tmp_path / "uhd.mp4", n=4, size=(3840, 2160)))
    assert (video_info(path).width, video_info(path).height) == (3840, 2160)
    frames = list(iter_frames(path, 0.0, 720))
    assert [f.image.shape for f in frames] == [(720, 1280, 3)] * 4
    assert [_frame_number(f) for f in frames] == [0, 1, 2, 3]


def test_start_frame_past_the_end_yields_nothing(video: Path) -> None:
    assert list(iter_frames(str(video), 0.0, None, start_frame=N_FRAMES + 5)) == []


def test_rotated_video_is_turned_upright(video: Path, tmp_path: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    rotated = tmp_path / "rotated.mp4"
    cmd = [ffmpeg, "-v", "error", "-display_rotation", "90", "-i", str(video), "-c", "copy", str(rotated)]
    subprocess.run(cmd, check=True)
    png = tmp_path / "f0.png"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(rotated), "-frames:v", "1", str(png)], check=True)
    reference = cv2.imread(str(png))  # ffmpeg's own auto-rotation
    frame = next(iter_frames(str(rotated), 1.0, None))
    assert frame.image.shape == reference.shape == (W, H, 3)
    assert np.abs(frame.image.astype(int) - reference.astype(int)).mean() < 3
    info = video_info(str(rotated))
    assert (info.width, info.height) == (H, W)


def _bad_inputs(tmp: Path, video: Path) -> dict[str, tuple[Path, str]]:
    zero = tmp / "zero.mp4"
    zero.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    noise = tmp / "noise.mkv"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    truncated = tmp / "truncated.mp4"  # moov atom at the end: the first half has no index
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    audio = tmp / "tone.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(8000) / 5) * 3000).astype("<i2").tobytes())
    return {
        "zero": (zero, "video_unreadable"),
        "text": (text, "video_unreadable"),
        "noise": (noise, "video_unreadable"),
        "truncated": (truncated, "video_unreadable"),
        "missing": (tmp / "missing.mp4", "video_unreadable"),
        "audio_only": (audio, "no_video_stream"),
    }


@pytest.mark.parametrize("case", ["zero", "text", "noise", "truncated", "missing", "audio_only"])
def test_bad_input_raises_video_error(video: Path, tmp_path: Path, case: str) -> None:
    path, code = _bad_inputs(tmp_path, video)[case]
    with pytest.raises(VideoError) as info_err:
        video_info(str(path))
    assert info_err.value.code == code and info_err.value.message
    with pytest.raises(VideoError) as iter_err:
        list(iter_frames(str(path), 0.5, 240))
    assert iter_err.value.code == code


# ---------------------------------------------------------------------------------------------- torso

RED_LAB = (53.24, 80.09, 67.20)  # sRGB (255, 0, 0) in CIELAB, D65


def _person_scene() -> tuple[np.ndarray, tuple[float, float, float, float]]:
    img = np.full((480, 640, 3), (235, 232, 228), np.uint8)  # bluish-white ice
    x1, y1, x2, y2 = 200, 100, 280, 340  # a 80x240 "player"
    img[y1:y2, x1:x2] = (0, 0, 255)  # red jersey, BGR
    img[y1 + 60 : y1 + 100, x1 + 30 : x1 + 50] = (255, 255, 255)  # a white number on the chest
    img[y1 + 180 : y2, x1:x2] = (20, 20, 20)  # dark pants and skates
    return img, (x1 / 640, y1 / 480, x2 / 640, y2 / 480)


def test_bgr_to_lab_is_true_cielab() -> None:
    lab = bgr_to_lab(np.array([[0, 0, 255], [255, 255, 255], [0, 0, 0]], np.uint8))
    assert lab[0] == pytest.approx(RED_LAB, abs=0.5)
    assert lab[1] == pytest.approx((100, 0, 0), abs=0.5)
    assert lab[2] == pytest.approx((0, 0, 0), abs=0.5)


def test_torso_colour_of_a_red_player_is_red() -> None:
    img, box = _person_scene()
    lab = torso_lab(img, box)
    assert lab is not None
    assert lab == pytest.approx(RED_LAB, abs=3.0)


def test_torso_crop_is_the_jersey_band() -> None:
    img, box = _person_scene()
    crop = torso_crop(img, box)
    assert crop is not None
    # 15 %-55 % of 240 rows, central 60 % of 80 columns.
    assert crop.shape == (96, 48, 3)


def test_small_or_off_frame_boxes_give_none() -> None:
    img, _ = _person_scene()
    assert torso_lab(img, (0.5, 0.5, 0.505, 0.51)) is None
    assert torso_crop(img, (1.2, 0.2, 1.4, 0.6)) is None
    assert player_crop(img, (0.5, 0.5, 0.502, 0.503)) is None


def test_player_crop_pads_and_clips() -> None:
    img, box = _person_scene()
    crop = player_crop(img, box, pad=0.05)
    assert crop is not None and crop.shape == (264, 88, 3)
    edge = player_crop(img, (0.9, 0.0, 1.0, 0.5))
    assert edge is not None and edge.shape[1] == 640 - round(0.895 * 640)  # clipped at the right edge


# ------------------------------------------------------------------------------------ person tracker

needs_model = pytest.mark.skipif(
    not (TFLITE.is_file() and PRACTICE.is_file()), reason="shared model/footage absent (../shared)"
)


@pytest.fixture(scope="module")
def tracker():  # type: ignore[no-untyped-def]
    from shiftclipper_tracker.detect import PersonTracker

    return PersonTracker(TFLITE)


@pytest.fixture(scope="module")
def practice_frames() -> list[DecodedFrame]:
    return list(iter_frames(str(PRACTICE), 0.2, 640))[:12]


@needs_model
@pytest.mark.slow
def test_model_load_and_inference_stay_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args[:2])
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    from shiftclipper_tracker.detect import PersonTracker

    pt = PersonTracker(TFLITE, warmup=False)
    pt.update(np.zeros((360, 640, 3), np.uint8))
    import ultralytics.utils as uu
    import ultralytics.utils.checks as uc

    assert attempts == []
    assert uu.ONLINE is False and uc.ONLINE is False and uc.AUTOINSTALL is False
    assert dict.get(uu.SETTINGS, "sync") is False


@needs_model
@pytest.mark.slow
def test_tflite_runs_at_the_requested_size_keeping_the_aspect(tracker) -> None:  # type: ignore[no-untyped-def]
    assert tracker.device == "cpu"
    tracker.detect_batch([np.zeros((720, 1280, 3), np.uint8)], imgsz=640)
    assert tracker.input_size == (384, 640)  # 360 rows rounded up to a multiple of 32, not a 640x640 square
    tracker.detect_batch([np.zeros((720, 1280, 3), np.uint8)], imgsz=960)
    assert tracker.input_size == (544, 960)


@needs_model
@pytest.mark.slow
def test_tracker_finds_persons_with_stable_ids(tracker, practice_frames) -> None:  # type: ignore[no-untyped-def]
    tracker.reset(sample_fps=5)
    per_frame = [tracker.update(f.image) for f in practice_frames[:5]]
    assert all(len(tracks) >= 1 for tracks in per_frame)
    for tracks in per_frame:
        for tid, (x1, y1, x2, y2), conf in tracks:
            assert isinstance(tid, int) and 0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0 and 0 < conf <= 1
    first = {tid for tid, _, _ in per_frame[0]}
    persisting = {tid for tid in first if all(tid in {t for t, _, _ in tr} for tr in per_frame)}
    assert len(persisting) * 2 > len(first), per_frame


@needs_model
@pytest.mark.slow
def test_reset_restarts_ids_and_batch_matches_single(tracker, practice_frames) -> None:  # type: ignore[no-untyped-def]
    images = [f.image for f in practice_frames[:3]]
    batch = tracker.detect_batch(images)
    assert len(batch) == 3
    single = tracker.detect_batch(images[:1])[0]
    assert np.allclose(batch[0].xyxy, single.xyxy, atol=1.0)
    tracker.reset(sample_fps=5)
    ids_a = [t[0] for t in tracker.track(batch[0])]
    tracker.reset(sample_fps=5)
    ids_b = [t[0] for t in tracker.track(batch[0])]
    assert ids_a == ids_b and min(ids_a) == 1


@needs_model
@pytest.mark.slow
def test_coasting_over_a_skipped_frame_keeps_a_fast_players_id(tracker) -> None:  # type: ignore[no-untyped-def]
    """A frame skipped on purpose must advance the motion model: the next detection is two steps further on."""
    from shiftclipper_tracker.detect import Detections

    speeds = [*range(4, 56, 4), *[56] * 6]  # px a sampled frame: accelerate gently so the Kalman filter keeps up
    xs = [100 + sum(speeds[:i]) for i in range(len(speeds) + 1)]

    def box(x: float) -> Detections:  # 60 px wide: one step of error is no overlap at all
        return Detections(np.array([[x, 300, x + 60, 460]], np.float32), np.array([0.9], np.float32), 1280, 720)

    def ids_after_a_skip(coast: bool) -> list[list[int]]:
        tracker.reset(sample_fps=10)
        assert all([t[0] for t in tracker.track(box(x))] == [1] for x in xs)
        if coast:
            tracker.coast()
        return [[t[0] for t in tracker.track(box(xs[-1] + 56 * k))] for k in (2, 3, 4)]

    assert ids_after_a_skip(coast=True) == [[1], [1], [1]]
    assert ids_after_a_skip(coast=False)[0] == []  # not coasted: the prediction is one step short, the player lost


# ------------------------------------------------------------------ the Ultralytics path (.pt / .onnx weights)


@pytest.fixture(scope="module")
def untrained_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """YOLOv8n built from Ultralytics' bundled architecture file with random weights (nothing downloaded), saved
    as `.pt` and exported to a dynamic-batch `.onnx`: the weight formats a GPU deployment gives the tracker. Their
    boxes mean nothing; what they run through does."""
    from shiftclipper_tracker.detect import _force_offline

    _force_offline()
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    model = YOLO("yolov8n.yaml", task="detect")
    model.save(str(folder / "untrained.pt"))
    onnx = YOLO(str(folder / "untrained.pt"), task="detect").export(format="onnx", imgsz=320, dynamic=True)
    return {"pt": folder / "untrained.pt", "onnx": Path(onnx)}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_pt_and_onnx_weights_detect_a_batch_as_frame_by_frame(
    untrained_weights: dict[str, Path], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shiftclipper_tracker.detect import PersonTracker

    monkeypatch.setenv("SHIFTCLIPPER_DEVICE", "cpu")  # the device the environment names wins over CUDA probing
    tracker = PersonTracker(untrained_weights[fmt], threads=2)
    assert (tracker.runtime, tracker.device, tracker.half) == ("ultralytics", "cpu", False)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (360, 640, 3), dtype=np.uint8) for _ in range(3)]
    batch = tracker.detect_batch(images, imgsz=320, conf=1e-4)  # random weights score everything low
    singles = [tracker.detect_batch([image], imgsz=320, conf=1e-4)[0] for image in images]
    assert [len(d) for d in batch] == [len(d) for d in singles] and all(len(d) > 0 for d in batch)
    for a, b in zip(batch, singles, strict=True):
        assert np.allclose(a.xyxy, b.xyxy, atol=0.5) and np.allclose(a.conf, b.conf, atol=1e-4)
        assert (a.width, a.height) == (640, 360) and np.all(a.xyxy[:, 2] <= 640)
    tracker.reset(sample_fps=10)
    assert all(isinstance(tid, int) for tid, _, _ in tracker.track(batch[0]))


@pytest.mark.slow
def test_models_batch_the_detector_only_where_it_pays(untrained_weights: dict[str, Path]) -> None:
    from shiftclipper_contracts.config import load_config
    from shiftclipper_tracker.pipeline import Models

    auto = Models(load_config({}, model_path=str(untrained_weights["onnx"]), device="cpu"))
    assert auto.speed.detect_batch == 1  # on the CPU: one frame at a time, with the settled stride
    asked = Models(load_config({"SHIFTCLIPPER_DETECT_BATCH": "8"}, model_path=str(untrained_weights["onnx"])))
    assert asked.speed.detect_batch == 8
