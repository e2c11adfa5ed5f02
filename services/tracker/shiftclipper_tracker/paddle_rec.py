"""PaddleOCR's own text recogniser as a source of digit posteriors (`JerseyReader(engine="paddleocr")`).

PaddleOCR (`pip install 'shiftclipper[paddle]'`) runs its recognition models on Paddle Inference. Its public
`predict()` returns only the best string and a score, so the reader takes the network's softmax output from the
PaddleX predictor's runner instead and keeps blank + the ten digits, as `rec_model.py` does for the ONNX model:
the same digit-constrained decoding then applies to either engine. The runner and the decoder's character list
are PaddleX internals (paddleocr 3.x): `load_paddle_recogniser` checks them and raises if they moved, so the reader
falls back to the bundled ONNX engine instead of reading garbage.

With no `model_dir`, PaddleOCR picks and downloads its default recogniser at the first use (it needs the
internet); a local directory (`inference.yml` + `inference.json`/`.pdmodel` + `inference.pdiparams`) never
touches the network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shiftclipper_tracker.ort_session import cpu_threads
from shiftclipper_tracker.rec_model import Recogniser

DIGITS = "0123456789"


def load_paddle_recogniser(model_dir: str, threads: int | None, device: str = "cpu") -> Recogniser:
    """Build PaddleOCR's `TextRecognition` once and return a function of a batch of bands.

    `device`: "cpu", or a Paddle device such as "gpu:0". Raises ImportError when paddleocr is not installed and
    any Exception PaddleOCR raises when the model cannot load (no local model and no internet)."""
    from paddleocr import TextRecognition

    # PaddleOCR's default is 10 CPU threads; the tracker's share is what onnxruntime gets
    kwargs: dict[str, object] = {"device": device, "cpu_threads": cpu_threads(threads)}
    if model_dir:
        kwargs.update(model_dir=model_dir, model_name=_model_name(Path(model_dir)))
    predictor = TextRecognition(**kwargs).paddlex_predictor
    runner = getattr(predictor, "runner", None)
    characters = list(getattr(getattr(predictor, "post_op", None), "character", None) or [])
    if runner is None or not characters:
        raise RuntimeError("this paddleocr version hides its recogniser's output: cannot read digit posteriors")
    missing = [d for d in DIGITS if d not in characters]
    if missing:
        raise RuntimeError(f"the PaddleOCR recogniser has no class for digit(s) {missing}")
    kept = np.array([0, *(characters.index(d) for d in DIGITS)])  # 0 is the CTC blank

    def recognise(batch: np.ndarray) -> np.ndarray:
        probs = np.asarray(runner([np.ascontiguousarray(batch, np.float32)])[0])
        if probs.shape[-1] != len(characters):
            raise RuntimeError(f"recogniser gave {probs.shape[-1]} classes, expected {len(characters)}")
        digits = probs[..., kept].astype(np.float64)
        return digits / np.maximum(digits.sum(axis=-1, keepdims=True), 1e-12)

    return recognise


def _model_name(model_dir: Path) -> str:
    """PaddleOCR insists the `model_name` it is given matches the directory's `inference.yml`."""
    import yaml

    config_path = model_dir / "inference.yml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} is missing: not a PaddleOCR model directory")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    name = (config.get("Global") or {}).get("model_name")
    if not name:
        raise ValueError(f"{config_path} names no Global.model_name")
    return str(name)
