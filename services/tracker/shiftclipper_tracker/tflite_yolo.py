"""YOLOv8 `.tflite` person detection at any input size, on OpenVINO (default) or LiteRT (XNNPACK).

Ultralytics' own TFLite export bakes its post-processing for one input size into the graph (reshapes to
8400 anchors, a DFL decode with constant anchor grids), so the model only runs at 640x640: a 16:9 frame
is letterboxed into a square and 44 % of the work is padding, and the `detect_imgsz` setting is ignored.
`rewrite_for_size` edits the flatbuffer instead:

- the graph is cut at the three per-level head outputs (`1 x H/s x W/s x (64 box + 80 class)`, s = 8, 16,
  32); the fixed-size decode after them is dropped and done here in numpy (`decode_level`);
- the two nearest-neighbour upsamples get sizes for the new input (their size is a constant tensor);
- int8 weights of a dynamic-range quantised export are stored back as float32: XNNPACK then runs plain
  float kernels, faster on AVX2 than the hybrid int8 path (measured in docs/benchmarks.md).

The rest of the graph is convolutions, pads, slices and concatenations along channels, which do not
depend on the input size. A 1280x720 frame at `imgsz` 640 then runs at 384x640.

The rewritten graph runs on either runtime (`RUNTIMES`). OpenVINO reads the `.tflite` itself and, on CPUs
with bfloat16 units (AMX, AVX512-BF16), runs it in bf16 by its own default: 2.3x LiteRT on an AMX Xeon, with the
same boxes (docs/benchmarks.md); elsewhere it runs float32, still ahead of XNNPACK on that Xeon but behind it on
an AVX2-only AMD EPYC. `default_runtime` picks by the CPU's flags.
"""

from __future__ import annotations

import functools
import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

STRIDES = (8, 16, 32)
REG_MAX = 16
"""DFL bins per box side (YOLOv8)."""
HEAD_CHANNELS = 4 * REG_MAX + 80
"""Per-anchor channels of a COCO YOLOv8 head output: 64 box logits, then 80 class logits."""
PAD_VALUE = 114
IOU_THRESHOLD = 0.7
"""NMS IoU (Ultralytics' default for `predict`)."""
MAX_DETECTIONS = 300
KEPT_SIZES = 4
"""Compiled graphs kept per process (one per input size; the least recently used goes first): a worker sees
videos of a few frame sizes, and each holds its own copy of the weights (~13 MB)."""

HeadRunner = Callable[[np.ndarray], list[np.ndarray]]
"""A graph compiled for one input size: `1 x rows x cols x 3` float input -> the three head outputs."""


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def rewrite_for_size(content: bytes, height: int, width: int) -> bytes:
    """The model with its head outputs as graph outputs (stride 8 first), resized for a `height` x `width`
    input (multiples of 32), and with float32 weights. Raises ValueError for a graph that is not a YOLOv8
    detection export."""
    import flatbuffers

    if height % 32 or width % 32:
        raise ValueError(f"input {height}x{width} must be multiples of 32")
    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(content, 0))
    if len(model.subgraphs) != 1:
        raise ValueError("expected a single-subgraph YOLOv8 export")
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    op_names = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in model.operatorCodes]
    heads = _head_outputs(graph, op_names)
    _keep_ops_feeding(graph, heads)
    _resize_upsamples(model, graph, op_names, height, width)
    _prune_operator_codes(model, graph)
    _float_weights(model, graph, s)
    graph.outputs = sorted(heads, key=lambda i: -int(graph.tensors[i].shape[1]))
    graph.tensors[graph.inputs[0]].shape = np.array([1, height, width, 3], np.int32)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _head_outputs(graph, op_names: list[str | None]) -> list[int]:
    heads = []
    for op in graph.operators:
        shape = graph.tensors[op.outputs[0]].shape
        if op_names[op.opcodeIndex] == "CONCATENATION" and len(shape) == 4 and shape[3] == HEAD_CHANNELS:
            heads.append(op.outputs[0])
    if len(heads) != len(STRIDES):
        raise ValueError(f"expected {len(STRIDES)} YOLOv8 head outputs of {HEAD_CHANNELS} channels, found {len(heads)}")
    return heads


def _keep_ops_feeding(graph, outputs: list[int]) -> None:
    producer = {op.outputs[0]: k for k, op in enumerate(graph.operators)}
    keep: set[int] = set()
    stack = list(outputs)
    while stack:
        k = producer.get(stack.pop())
        if k is not None and k not in keep:
            keep.add(k)
            stack.extend(graph.operators[k].inputs)
    graph.operators = [op for k, op in enumerate(graph.operators) if k in keep]


def _resize_upsamples(model, graph, op_names: list[str | None], height: int, width: int) -> None:
    input_rows = int(graph.tensors[graph.inputs[0]].shape[1])
    for op in graph.operators:
        if op_names[op.opcodeIndex] != "RESIZE_NEAREST_NEIGHBOR":
            continue
        stride = input_rows // int(graph.tensors[op.outputs[0]].shape[1])
        size = np.array([height // stride, width // stride], np.int32)
        model.buffers[graph.tensors[op.inputs[1]].buffer].data = np.frombuffer(size.tobytes(), np.uint8)


def _prune_operator_codes(model, graph) -> None:
    """The interpreter resolves every listed operator code, used or not: keep only the used ones."""
    used = sorted({op.opcodeIndex for op in graph.operators})
    remap = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for op in graph.operators:
        op.opcodeIndex = remap[op.opcodeIndex]


def _float_weights(model, graph, s) -> None:
    for tensor in graph.tensors:
        data = model.buffers[tensor.buffer].data if tensor.buffer else None
        if tensor.type != s.TensorType.INT8 or data is None or tensor.quantization is None:
            continue
        q = np.frombuffer(bytes(data), np.int8).reshape([int(d) for d in tensor.shape]).astype(np.float32)
        scale = np.asarray(tensor.quantization.scale, np.float32)
        zero = np.asarray(tensor.quantization.zeroPoint, np.float32)
        shape = [1] * q.ndim
        shape[tensor.quantization.quantizedDimension] = -1
        weights = (q - zero.reshape(shape)) * scale.reshape(shape)
        model.buffers[tensor.buffer].data = np.frombuffer(weights.astype(np.float32).tobytes(), np.uint8)
        tensor.type = s.TensorType.FLOAT32
        tensor.quantization = None


def input_shape(frame_hw: tuple[int, int], imgsz: int | tuple[int, int]) -> tuple[int, int]:
    """Network input (rows, cols) for a frame: an int `imgsz` is the long side, the short side keeps the
    aspect ratio rounded up to a multiple of 32 (Ultralytics' rectangular inference); a tuple is (rows, cols)
    as given, rounded up to multiples of 32."""
    if isinstance(imgsz, tuple):
        rows, cols = imgsz
    else:
        h, w = frame_hw
        scale = imgsz / max(h, w)
        rows, cols = round(h * scale), round(w * scale)
    return -(-rows // 32) * 32, -(-cols // 32) * 32


def letterbox(image_bgr: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, float, int, int]:
    """RGB float32 0..1 network input, plus the scale and (top, left) padding to map boxes back."""
    h, w = image_bgr.shape[:2]
    scale = min(rows / h, cols / w)
    nh, nw = round(h * scale), round(w * scale)
    top, left = (rows - nh) // 2, (cols - nw) // 2
    canvas = np.full((rows, cols, 3), PAD_VALUE, np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[top : top + nh, left : left + nw] = cv2.resize(image_bgr, (nw, nh), interpolation=interp)
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    return rgb.astype(np.float32) * (1.0 / 255.0), scale, top, left


def decode_level(head: np.ndarray, stride: int, class_id: int, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N x 4 xyxy, network pixels) and scores of one head output `1 x gh x gw x 144` for one class,
    keeping anchors scoring at least `conf`. The DFL softmax runs only on those anchors."""
    grid = head[0]
    logits = grid[..., 4 * REG_MAX + class_id]
    threshold = float(np.log(conf / (1.0 - conf))) if 0.0 < conf < 1.0 else -np.inf
    ys, xs = np.nonzero(logits >= threshold)
    if len(ys) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    scores = 1.0 / (1.0 + np.exp(-logits[ys, xs]))
    bins = grid[ys, xs, : 4 * REG_MAX].reshape(-1, 4, REG_MAX)
    bins = np.exp(bins - bins.max(axis=2, keepdims=True))
    dist = (bins / bins.sum(axis=2, keepdims=True)) @ np.arange(REG_MAX, dtype=np.float32)  # N x 4: l t r b
    cx, cy = xs + 0.5, ys + 0.5
    boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1) * stride
    return boxes.astype(np.float32), scores.astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = IOU_THRESHOLD) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first, at most `MAX_DETECTIONS`."""
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), 0.0, iou, top_k=MAX_DETECTIONS)
    return np.asarray(keep, np.int64).reshape(-1)


def default_runtime() -> str:
    """The runtime that measured faster on this kind of CPU (docs/benchmarks.md): OpenVINO, when installed (the
    tracker extra installs it), on CPUs with AVX-512 (bf16 on an AMX Xeon: 14.0 against LiteRT's 32.4 ms a 384x640
    frame; float32 on the same Xeon with bf16 off: 21.3 against 29.1 ms); LiteRT (XNNPACK) on CPUs without it (an
    AVX2 AMD EPYC: 50.9 against OpenVINO's 59.9 ms). Where the CPU's flags cannot be read, OpenVINO when installed."""
    if importlib.util.find_spec("openvino") is None:
        return "litert"
    flags = cpu_flags()
    return "litert" if flags is not None and "avx512f" not in flags else "openvino"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The x86 feature flags Linux lists for the first CPU, or None (another OS, or a CPU that lists "Features")."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


@functools.cache
def _openvino_core() -> Any:
    import openvino

    return openvino.Core()


def _litert_runner(model: bytes, threads: int) -> HeadRunner:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=threads)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    outputs = [d["index"] for d in it.get_output_details()]

    def run(x: np.ndarray) -> list[np.ndarray]:
        it.set_tensor(index, x)
        it.invoke()
        return [it.get_tensor(i) for i in outputs]

    return run


def _openvino_runner(model: bytes, threads: int) -> HeadRunner:
    core = _openvino_core()
    with tempfile.TemporaryDirectory() as tmp:  # its TFLite front end reads files; compiling copies the weights
        path = Path(tmp) / "yolo.tflite"
        path.write_bytes(model)
        compiled = core.compile_model(
            core.read_model(path), "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        )
    request = compiled.create_infer_request()
    outputs = list(compiled.outputs)

    def run(x: np.ndarray) -> list[np.ndarray]:
        result = request.infer({0: x})
        return [result[o] for o in outputs]  # views into the request's buffers: decoded before the next call

    return run


_RUNNERS: dict[str, Callable[[bytes, int], HeadRunner]] = {"openvino": _openvino_runner, "litert": _litert_runner}
RUNTIMES = tuple(_RUNNERS)


class TfliteYolo:
    """A YOLOv8 `.tflite` detector for one class at any input size. One compiled graph per input size, built
    on first use and kept (a video has one frame size; at most KEPT_SIZES are kept). `runtime`: "openvino",
    "litert" or "" (`default_runtime()`)."""

    def __init__(self, path: str | Path, threads: int, runtime: str = "") -> None:
        self.runtime = runtime or default_runtime()
        if self.runtime not in _RUNNERS:
            raise ValueError(f"unknown detection runtime {runtime!r}; expected one of {RUNTIMES}")
        self._content = Path(path).read_bytes()
        self._threads = threads
        self._runners: dict[tuple[int, int], HeadRunner] = {}
        self.last_input: tuple[int, int] | None = None
        rewrite_for_size(self._content, 64, 64)  # fail now, with a clear error, for a non-YOLOv8 file

    def _runner(self, rows: int, cols: int) -> HeadRunner:
        key = (rows, cols)
        run = self._runners.pop(key, None)
        if run is None:
            run = _RUNNERS[self.runtime](rewrite_for_size(self._content, rows, cols), self._threads)
            while len(self._runners) >= KEPT_SIZES:
                del self._runners[next(iter(self._runners))]
        self._runners[key] = run  # re-inserted last: dict order is the recency order
        return run

    def detect(
        self, image_bgr: np.ndarray, imgsz: int | tuple[int, int], conf: float, class_id: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N x 4 xyxy in image pixels, N scores) for `class_id`, after NMS, best first."""
        rows, cols = input_shape(image_bgr.shape[:2], imgsz)
        run = self._runner(rows, cols)
        x, scale, top, left = letterbox(image_bgr, rows, cols)
        heads = sorted(run(x[None]), key=lambda h: -h.shape[1])  # finest grid (stride 8) first
        self.last_input = (rows, cols)
        parts = [decode_level(h, s, class_id, conf) for h, s in zip(heads, STRIDES, strict=True)]
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        keep = nms(boxes, scores)
        boxes, scores = boxes[keep], scores[keep]
        boxes -= np.array([left, top, left, top], np.float32)
        boxes /= scale
        h, w = image_bgr.shape[:2]
        np.clip(boxes, 0, [w, h, w, h], out=boxes)
        return boxes, scores
