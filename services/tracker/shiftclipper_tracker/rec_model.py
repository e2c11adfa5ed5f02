"""The PP-OCR recogniser shipped inside the rapidocr wheel, loaded with its output cut to blank + the ten digits.

The model's last layer maps 120 features per frame to 18,710 characters and softmaxes them: 90 M multiply-adds a
band and a 3 MB output, of which the reader keeps 11 columns and renormalises them. A softmax renormalised over
a subset of its classes is the softmax of those classes' logits alone, so slicing the layer's weights to those
columns gives the same posteriors (to float rounding) for 15 % less time a band (docs/ocr.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shiftclipper_tracker.ort_session import cpu_session

MODEL_NAME = "PP-OCRv6_rec_small.onnx"
DIGIT_CLASSES = np.arange(33, 43)
"""Output indices of "0".."9" in the full recogniser (blank is 0, the key list starts at 1)."""
KEPT_CLASSES = np.concatenate([[0], DIGIT_CLASSES])
"""The columns the sliced model keeps, in its output order: blank, "0".."9"."""

Recogniser = Callable[[np.ndarray], np.ndarray]
"""[N, 3, 48, W] float32 bands scaled to -1..1 (BGR) -> [N, ceil(W/8), 11] CTC posteriors over blank + "0".."9".
The bundled ONNX model here and PaddleOCR's (`paddle_rec.py`) both take this shape."""


def bundled_rapidocr_model(name: str = MODEL_NAME) -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise RuntimeError("rapidocr is not installed: pip install 'shiftclipper[tracker]'")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: the rapidocr wheel should ship it (no run-time download)")
    return path


def digits_only(path: Path) -> bytes:
    """The serialised model with its classifier (the last MatMul + bias Add before the Softmax) cut to
    KEPT_CLASSES; raises RuntimeError if the graph or its key list is not the one this was written for."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    keys = {p.key: p.value for p in model.metadata_props}.get("character", "").splitlines()
    if [keys[i - 1] for i in DIGIT_CLASSES if i - 1 < len(keys)] != list("0123456789"):
        raise RuntimeError(f"{path.name}: unexpected key list, digit classes moved")
    graph = model.graph
    nodes = list(graph.node)
    if [n.op_type for n in nodes[-4:]] != ["MatMul", "Add", "Identity", "Softmax"]:
        raise RuntimeError(f"{path.name}: unexpected classifier layout {[n.op_type for n in nodes[-4:]]}")
    weights = {init.name: init for init in graph.initializer}
    classes = len(keys) + 2  # blank + keys + the trailing space class
    for name in (nodes[-4].input[1], nodes[-3].input[1]):
        array = numpy_helper.to_array(weights[name])
        if array.shape[-1] != classes:
            raise RuntimeError(f"{path.name}: {name} has {array.shape[-1]} outputs, expected {classes}")
        weights[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[..., KEPT_CLASSES]), name))
    sliced = {out for node in nodes[-4:] for out in node.output}
    for info in [*graph.value_info, *graph.output]:
        if info.name in sliced:
            info.type.tensor_type.shape.dim[-1].dim_value = len(KEPT_CLASSES)
    return bytes(model.SerializeToString())


def load_recogniser(threads: int | None) -> Recogniser:
    """The digits-only recogniser on an onnxruntime session, as a function of a batch of bands."""
    session = cpu_session(digits_only(bundled_rapidocr_model()), threads)
    input_name = session.get_inputs()[0].name

    def recognise(batch: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {input_name: batch})[0])

    return recognise
