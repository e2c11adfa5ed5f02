"""One way to open an ONNX model on the CPU with onnxruntime, shared by the OCR models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def cpu_threads(threads: int | None) -> int:
    """`threads`, or by default up to 2: the tracker's share of a small box (onnxruntime and Paddle alike)."""
    return threads or min(2, os.cpu_count() or 1)


def cpu_session(model: Path | bytes, threads: int | None) -> Any:
    """An onnxruntime CPU session of `model` (a file or its serialised bytes): `threads` intra-op threads
    (default: up to 2, the tracker's share of a small box), one inter-op thread, warnings silenced."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cpu_threads(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
