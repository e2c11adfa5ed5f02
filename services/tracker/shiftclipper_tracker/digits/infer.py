"""Run-time wrapper of the jersey-digit CNN: whole-player crops in, posteriors over the numbers out.

onnxruntime only (no torch). Test-time views: the training window and a few shifted copies; the
per-view posteriors are averaged, so views that disagree lower the winner's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..ort_session import cpu_session
from .labels import NONE_INDEX, TRAIN_WINDOW, Window, normalise, to_input

MODEL_PATH = Path(__file__).with_name("jersey_digits.onnx")

DEFAULT_WINDOWS: tuple[Window, ...] = (
    TRAIN_WINDOW,
    Window(0.02, 0.58, 0.0, 1.0),
    Window(0.10, 0.66, 0.0, 1.0),
    Window(0.06, 0.62, 0.06, 0.94),
)
"""The training window, shifted up / down by 4 % of the crop height, and 6 % narrower on each side."""


class DigitModel:
    """Loads `jersey_digits.onnx` once; `posteriors` is batched over crops x windows in one call."""

    def __init__(
        self,
        model_path: Path | str = MODEL_PATH,
        *,
        windows: Sequence[Window] = DEFAULT_WINDOWS,
        threads: int | None = None,
    ) -> None:
        if not Path(model_path).is_file():
            raise RuntimeError(f"{model_path} is missing: retrain with `python -m shiftclipper_tracker.digits.train`")
        self._session = cpu_session(Path(model_path), threads)
        self.windows = tuple(windows)

    def view_posteriors(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """len(crops) x len(windows) x 111 probabilities (110 numbers in CANDIDATES order, then none)."""
        if not crops:
            return np.zeros((0, len(self.windows), NONE_INDEX + 1))
        inputs = np.stack([to_input(c, w) for c in crops for w in self.windows])
        logp = self._session.run(None, {"x": normalise(inputs)})[0]
        return np.exp(logp.astype(np.float64)).reshape(len(crops), len(self.windows), -1)

    def posteriors(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """len(crops) x 111: the per-window posteriors averaged."""
        return self.view_posteriors(crops).mean(axis=1)
