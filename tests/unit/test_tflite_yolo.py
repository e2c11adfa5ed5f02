"""Our `.tflite` YOLOv8 runner: size arithmetic and decoding on synthetic head outputs; on the shared model,
the rewritten graph on each runtime (OpenVINO, LiteRT) against Ultralytics running the original export."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from shiftclipper_tracker.decode import iter_frames
from shiftclipper_tracker.tflite_yolo import (
    HEAD_CHANNELS,
    REG_MAX,
    RUNTIMES,
    TfliteYolo,
    decode_level,
    input_shape,
    nms,
    rewrite_for_size,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TFLITE = SHARED / "models" / "yolov8n_int8.tflite"
MEDIA = SHARED / "media"
needs_model = pytest.mark.skipif(not TFLITE.is_file(), reason="shared model absent (../shared)")


@pytest.mark.parametrize(
    ("frame", "imgsz", "expected"),
    [
        ((720, 1280), 640, (384, 640)),
        ((1080, 1920), 640, (384, 640)),
        ((1080, 1920), 960, (544, 960)),
        ((1024, 576), 640, (640, 384)),  # portrait phone video
        ((480, 640), 640, (480, 640)),
        ((720, 1280), (352, 640), (352, 640)),
        ((720, 1280), (350, 630), (352, 640)),  # explicit sizes round up to the stride
    ],
)
def test_input_shape_keeps_the_aspect_on_a_stride_grid(
    frame: tuple[int, int], imgsz: int | tuple[int, int], expected: tuple[int, int]
) -> None:
    assert input_shape(frame, imgsz) == expected


def _head(gh: int, gw: int, cells: dict[tuple[int, int], tuple[float, tuple[int, int, int, int]]]) -> np.ndarray:
    """A head output with class-0 logits and one-hot DFL bins (l, t, r, b in grid units) at the given cells."""
    head = np.full((1, gh, gw, HEAD_CHANNELS), -20.0, np.float32)
    for (y, x), (score, ltrb) in cells.items():
        head[0, y, x, 4 * REG_MAX] = math.log(score / (1 - score))
        for side, d in enumerate(ltrb):
            head[0, y, x, side * REG_MAX + d] = 30.0
    return head


def test_decode_level_places_boxes_from_anchor_centres_and_dfl_bins() -> None:
    head = _head(4, 6, {(1, 2): (0.9, (1, 2, 3, 1)), (3, 5): (0.05, (1, 1, 1, 1))})
    boxes, scores = decode_level(head, 16, class_id=0, conf=0.1)
    assert scores.shape == (1,) and scores[0] == pytest.approx(0.9, abs=1e-4)
    # anchor centre (2.5, 1.5) grid units; box = centre -l/-t, +r/+b; times the stride
    assert boxes[0] == pytest.approx([(2.5 - 1) * 16, (1.5 - 2) * 16, (2.5 + 3) * 16, (1.5 + 1) * 16], abs=0.01)
    assert decode_level(head, 16, class_id=0, conf=0.95)[0].shape == (0, 4)


def test_nms_drops_the_weaker_of_two_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [50, 50, 60, 70]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.5], np.float32))
    assert keep.tolist() == [1, 2]


def test_rewrite_rejects_sizes_off_the_stride_grid() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        rewrite_for_size(b"", 360, 640)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda z: np.prod(z[:, 2:] - z[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_an_unknown_runtime_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="openvino"):
        TfliteYolo(TFLITE, threads=1, runtime="tensorrt")


def test_the_runtime_setting_accepts_only_known_runtimes() -> None:
    import msgspec

    from shiftclipper_contracts.config import load_config

    assert load_config({}).detect_runtime == ""
    assert load_config({"SHIFTCLIPPER_DETECT_RUNTIME": "litert"}).detect_runtime == "litert"
    with pytest.raises(msgspec.ValidationError, match="detect_runtime"):
        load_config({"SHIFTCLIPPER_DETECT_RUNTIME": "tensorrt"})


@pytest.mark.parametrize(
    ("cpuinfo", "runtime"),
    [
        ("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 amx_tile\n", "openvino"),
        ("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n", "openvino"),
        ("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n", "litert"),  # AVX2 only: XNNPACK is faster
        ("processor\t: 0\nFeatures\t: fp asimd\n", "openvino"),  # flags unknown: OpenVINO, as installed
        (None, "openvino"),  # no /proc/cpuinfo
    ],
)
def test_the_default_runtime_is_the_faster_one_for_the_cpu(
    cpuinfo: str | None, runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shiftclipper_tracker import tflite_yolo

    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    read = tflite_yolo.cpu_flags
    monkeypatch.setattr(tflite_yolo, "cpu_flags", lambda: read(path))
    assert tflite_yolo.default_runtime() == runtime  # the tracker extra installs OpenVINO


@needs_model
@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "clip", ["nhl_closeup_CHI_practice_tiktok_11s.mp4", "nhl_broadcast_BUF-EDM_2016-10-16_12s.mp4"]
)
def test_rewritten_graph_matches_ultralytics_on_the_original_export(clip: str, runtime: str) -> None:
    """Same square input as Ultralytics' fixed 640x640 export: the confident persons agree box for box (OpenVINO
    runs bf16 on CPUs that have it)."""
    from shiftclipper_tracker.detect import _force_offline

    if not (MEDIA / clip).is_file():
        pytest.skip("shared footage absent")
    _force_offline()
    from ultralytics import YOLO

    reference = YOLO(str(TFLITE), task="detect")
    ours = TfliteYolo(TFLITE, threads=2, runtime=runtime)
    assert ours.runtime == runtime
    matched = total = 0
    for frame in list(iter_frames(str(MEDIA / clip), 1.0, 720))[:5]:
        ref = reference.predict(frame.image, imgsz=640, conf=0.4, classes=[0], verbose=False)[0].boxes
        ref_xyxy = np.asarray(ref.xyxy.cpu(), np.float32).reshape(-1, 4)
        boxes, scores = ours.detect(frame.image, (640, 640), conf=0.3)
        assert ours.last_input == (640, 640)
        assert np.all(scores >= 0.3) and np.all(boxes[:, 2:] > boxes[:, :2])
        total += len(ref_xyxy)
        if len(ref_xyxy) and len(boxes):
            matched += int(np.sum(_iou(ref_xyxy, boxes).max(axis=1) >= 0.85))
    assert total >= 5
    assert matched >= 0.9 * total, (matched, total)


@needs_model
@pytest.mark.slow
def test_compiled_graphs_are_kept_per_input_size_least_recently_used_first_out() -> None:
    from shiftclipper_tracker.tflite_yolo import KEPT_SIZES

    det = TfliteYolo(TFLITE, threads=1)
    frame = np.zeros((64, 64, 3), np.uint8)
    sizes = [(64, 64 + 32 * k) for k in range(KEPT_SIZES + 1)]
    for size in sizes:
        det.detect(frame, size, conf=0.5)
    kept = list(det._runners)
    assert len(kept) == KEPT_SIZES and sizes[0] not in kept  # the oldest went
    first = det._runners[sizes[1]]
    det.detect(frame, sizes[1], conf=0.5)  # reused, and now the most recent
    assert det._runners[sizes[1]] is first and list(det._runners)[-1] == sizes[1]
