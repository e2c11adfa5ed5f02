"""Jersey-number reader: whole-player crop (BGR) in, `NumberRead` or None out.

Engines (docs/ocr.md): "rapidocr" (default) is the PP-OCR recogniser described next; "digits" our own
small CNN trained on synthetic renders (`shiftclipper_tracker.digits`; not yet accurate enough to be the
default: see docs/ocr.md); "ensemble" both, their posteriors over the numbers averaged (a confident read
then needs both engines to agree); "paddleocr" the same views and decoding on PaddleOCR's own recogniser
(`paddle_rec`), or "rapidocr" where PaddleOCR cannot load.

PP-OCR approach: no text detection. A handful of fixed torso bands ("views": position,
width, contrast variant) go through the PP-OCR recogniser shipped inside the rapidocr wheel, its output
layer cut to blank + the ten digits (`rec_model`), in batched ONNX calls. Those CTC posteriors are scored
exactly (CTC forward algorithm) against every valid jersey number, "0".."9" and "00".."99"; the per-view
posteriors over those 110 candidates are averaged. The average posterior of the winner is the
confidence, so views that disagree lower it. Crops that are too small or flat are not read at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import structlog

from shiftclipper_contracts.config import OcrEngine
from shiftclipper_tracker.core.observations import NumberRead
from shiftclipper_tracker.digits.infer import MODEL_PATH, DigitModel
from shiftclipper_tracker.digits.labels import CANDIDATES, NONE_INDEX
from shiftclipper_tracker.rec_model import Recogniser, load_recogniser

ENGINES: tuple[str, ...] = get_args(OcrEngine)
"""Accepted `engine` values: the contracts' `OcrEngine` (`ServiceConfig.ocr_engine`)."""

log = structlog.get_logger(__name__)

REC_HEIGHT = 48
"""Input height of the PP-OCR recogniser."""


@dataclass(frozen=True, slots=True)
class View:
    """A torso band as fractions of the crop, and the contrast variant fed to the recogniser."""

    y0: float
    height: float
    x0: float
    x1: float
    variant: str  # "raw" | "clahe" | "inv" (inverted CLAHE grey)


DEFAULT_VIEWS: tuple[View, ...] = (
    View(0.18, 0.24, 0.12, 0.88, "clahe"),
    View(0.22, 0.24, 0.12, 0.88, "inv"),
    View(0.18, 0.18, 0.12, 0.88, "raw"),
)
"""The first three picks of a greedy forward selection over a 4x2x2 grid of bands x 3 variants (docs/ocr.md).
The selection's next two picks cost 40 % more time and lost 4 points of accuracy (0.441 -> 0.401)."""

FAST_VIEWS: tuple[View, ...] = DEFAULT_VIEWS[:1]
"""One recogniser pass a crop (about a fifth of the cost, a few points less accurate)."""

# Two-digit candidates as (first, second) class indices into the 11-class (blank + digits) posterior.
_TWO_FIRST = np.repeat(np.arange(1, 11), 10)
_TWO_SECOND = np.tile(np.arange(1, 11), 10)
_TWO_SAME = _TWO_FIRST == _TWO_SECOND
_ONE = np.arange(1, 11)


def candidate_log_likelihoods(q: np.ndarray) -> np.ndarray:
    """Exact CTC log-likelihood of each of `CANDIDATES` given per-frame posteriors.

    `q` is T x 11: column 0 blank, columns 1..10 the digits 0..9 (rows sum to 1). Vectorised forward
    algorithm over all 110 label sequences at once, rescaled every frame to stay in float range.
    """
    t_len = q.shape[0]
    one = np.zeros((10, 3))  # states: blank, d, blank
    one[:, 0] = q[0, 0]
    one[:, 1] = q[0, _ONE]
    two = np.zeros((100, 5))  # states: blank, a, blank, b, blank
    two[:, 0] = q[0, 0]
    two[:, 1] = q[0, _TWO_FIRST]
    log_scale = 0.0
    for t in range(1, t_len):
        qb = q[t, 0]
        n1 = np.empty_like(one)
        n1[:, 0] = one[:, 0] * qb
        n1[:, 1] = (one[:, 0] + one[:, 1]) * q[t, _ONE]
        n1[:, 2] = (one[:, 1] + one[:, 2]) * qb
        n2 = np.empty_like(two)
        n2[:, 0] = two[:, 0] * qb
        n2[:, 1] = (two[:, 0] + two[:, 1]) * q[t, _TWO_FIRST]
        n2[:, 2] = (two[:, 1] + two[:, 2]) * qb
        n2[:, 3] = (two[:, 2] + two[:, 3] + np.where(_TWO_SAME, 0.0, two[:, 1])) * q[t, _TWO_SECOND]
        n2[:, 4] = (two[:, 3] + two[:, 4]) * qb
        m = max(float(n1.max()), float(n2.max()), 1e-300)
        one, two = n1 / m, n2 / m
        log_scale += float(np.log(m))
    lik = np.concatenate([one[:, 1] + one[:, 2], two[:, 3] + two[:, 4]])
    return np.log(lik + 1e-300) + log_scale


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class JerseyReader:
    """Reads jersey numbers off whole-player crops. Create once per process: models load here."""

    def __init__(
        self,
        engine: str = "rapidocr",
        *,
        views: Sequence[View] = DEFAULT_VIEWS,
        min_confidence: float = 0.2,
        min_height: int = 48,
        min_width: int = 20,
        min_contrast: float = 12.0,
        threads: int | None = None,
        chunk: int = 6,
        pad_width: int = 320,
        early_accept: float | None = None,
        digit_model: Path | str | None = None,
        paddle_model_dir: str = "",
        paddle_device: str = "cpu",
    ) -> None:
        """`early_accept` (PP-OCR views): when set, every crop is first read with the first view alone, and
        only crops whose one-view confidence stays below this get the remaining views (averaged with the
        first): nearly the cost of one view on clear crops, the full ensemble on hard ones.
        `digit_model`: another ONNX file for the digit CNN (default: `digits/jersey_digits.onnx`, written by
        the training script).
        `paddle_model_dir`, `paddle_device` (engine "paddleocr"): a local PaddleOCR recognition model ("" = the
        one PaddleOCR downloads) and the Paddle device. Where PaddleOCR cannot load (not installed, no model and
        no internet), the reader logs a warning and uses the offline "rapidocr" engine: `engine` says which."""
        if engine not in ENGINES:
            raise ValueError(f"unknown OCR engine {engine!r}; expected one of {ENGINES}")
        self._recognise: Recogniser | None = None
        if engine == "paddleocr":
            self._recognise = _paddle_or_none(paddle_model_dir, threads, paddle_device)
            engine = "paddleocr" if self._recognise is not None else "rapidocr"
        self.engine = engine
        """The engine in use: "rapidocr" when "paddleocr" was asked for and could not load."""
        self._digits = (
            DigitModel(digit_model or MODEL_PATH, threads=threads) if engine in ("digits", "ensemble") else None
        )
        if self._recognise is None and engine != "digits":
            self._recognise = load_recogniser(threads)
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        self.views = tuple(views)
        self.chunk = chunk
        self.pad_width = pad_width
        self.min_confidence = min_confidence
        self.min_height = min_height
        self.min_width = min_width
        self.min_contrast = min_contrast
        self.early_accept = early_accept

    # -- public ---------------------------------------------------------------------------------

    def read(self, crop_bgr: np.ndarray) -> NumberRead | None:
        return self.read_batch([crop_bgr])[0]

    def read_batch(
        self, crops: Sequence[np.ndarray], max_views: Sequence[int] | None = None
    ) -> list[NumberRead | None]:
        """Batched model calls for all legible crops. `max_views[i]` caps the PP-OCR views of crop i (the
        first views of `views` are the best ones); None: all views (and `early_accept`)."""
        limits = [len(self.views)] * len(crops) if max_views is None else [max(1, m) for m in max_views]
        if len(limits) != len(crops):
            raise ValueError("max_views must have one entry per crop")
        readable = [i for i, crop in enumerate(crops) if self.legible(crop)]
        posts = self.posteriors(crops, readable, limits)
        out: list[NumberRead | None] = [None] * len(crops)
        for i, post in posts.items():
            best = int(post.argmax())
            conf = float(post[best])
            if best != NONE_INDEX and conf >= self.min_confidence:
                out[i] = NumberRead(number=CANDIDATES[best], confidence=round(conf, 4))
        return out

    def posteriors(
        self, crops: Sequence[np.ndarray], readable: Sequence[int], limits: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """Per readable crop, the engine's 111-way posterior (CANDIDATES, then "no number")."""
        digits = self._digit_posteriors(crops, readable)
        ppocr = self._ppocr_posteriors(crops, readable, limits)
        out: dict[int, np.ndarray] = {}
        for i in readable:
            parts = [p[i] for p in (digits, ppocr) if i in p]
            if parts:
                out[i] = np.mean(parts, axis=0)
        return out

    def _digit_posteriors(self, crops: Sequence[np.ndarray], readable: Sequence[int]) -> dict[int, np.ndarray]:
        if self._digits is None or not readable:
            return {}
        post = self._digits.posteriors([crops[i] for i in readable])
        return dict(zip(readable, post, strict=True))

    def _ppocr_posteriors(
        self, crops: Sequence[np.ndarray], readable: Sequence[int], limits: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """PP-OCR views averaged, padded to 111 with P(no number) = 0 (it has no such class)."""
        if self._recognise is None:
            return {}
        first_pass = {i: 1 if self.early_accept is not None else limits[i] for i in readable}
        sums, counts = self._run_views(crops, first_pass, 0)
        if self.early_accept is not None:
            rest = {
                i: limits[i]
                for i in readable
                if limits[i] > 1 and (counts[i] == 0 or (sums[i] / counts[i]).max() < self.early_accept)
            }
            more_sums, more_counts = self._run_views(crops, rest, 1)
            for i, extra in more_sums.items():
                sums[i] = sums[i] + extra if i in sums else extra
                counts[i] += more_counts[i]
        return {i: np.append(sums[i] / counts[i], 0.0) for i in readable if counts[i]}

    def _run_views(
        self, crops: Sequence[np.ndarray], upto: dict[int, int], start: int
    ) -> tuple[dict[int, np.ndarray], dict[int, int]]:
        """Views `start`..`upto[i]`-1 of each crop i: per crop, the sum of the candidate posteriors and the count."""
        bands: list[np.ndarray] = []
        owners: list[int] = []
        for i, stop in upto.items():
            for view in self.views[start:stop]:
                band = self._band(crops[i], view)
                if band is not None:
                    bands.append(band)
                    owners.append(i)
        sums: dict[int, np.ndarray] = {}
        counts = dict.fromkeys(upto, 0)
        if not bands:
            return sums, counts
        posteriors = self._candidate_posteriors(bands)
        for row, i in enumerate(owners):
            sums[i] = sums[i] + posteriors[row] if i in sums else posteriors[row].copy()
            counts[i] += 1
        return sums, counts

    def legible(self, crop: np.ndarray) -> bool:
        """Cheap pre-filter: big enough, and the torso is not flat (blank, fully blurred, occluded)."""
        if crop.ndim != 3 or crop.shape[0] < self.min_height or crop.shape[1] < self.min_width:
            return False
        h = crop.shape[0]
        torso = cv2.cvtColor(crop[int(0.15 * h) : int(0.5 * h)], cv2.COLOR_BGR2GRAY)
        return float(torso.std()) >= self.min_contrast

    # -- internals ------------------------------------------------------------------------------

    def _band(self, crop: np.ndarray, view: View) -> np.ndarray | None:
        h, w = crop.shape[:2]
        band = crop[int(view.y0 * h) : int((view.y0 + view.height) * h), int(view.x0 * w) : int(view.x1 * w)]
        if band.shape[0] < 8 or band.shape[1] < 8:
            return None
        if view.variant == "raw":
            return band
        grey = self._clahe.apply(cv2.cvtColor(band, cv2.COLOR_BGR2GRAY))
        if view.variant == "inv":
            grey = 255 - grey
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)

    def _candidate_posteriors(self, bands: list[np.ndarray]) -> np.ndarray:
        """len(bands) x 110: posterior over `CANDIDATES` per band, digits-only CTC.

        Bands are sorted by width and run in small chunks: padding a big batch to its widest band
        costs more than the batching saves (measured: 6 ms a band in chunks of 5, 13 ms in one of 40).
        """
        recognise = self._recognise
        assert recognise is not None, "only engines with a PP-OCR recogniser read bands"
        widths = [max(8, int(np.ceil(REC_HEIGHT * b.shape[1] / b.shape[0]))) for b in bands]
        order = np.argsort(widths)
        out = np.empty((len(bands), len(CANDIDATES)))
        for start in range(0, len(bands), self.chunk):
            idx = order[start : start + self.chunk]
            width = max(self.pad_width, *(widths[k] for k in idx))
            batch = np.zeros((len(idx), 3, REC_HEIGHT, width), np.float32)
            for row, k in enumerate(idx):
                resized = cv2.resize(bands[k], (widths[k], REC_HEIGHT))
                batch[row, :, :, : widths[k]] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
            probs = recognise(batch)  # n x T x (blank + digits), softmaxed
            for row, k in enumerate(idx):
                t_used = max(1, int(np.ceil(widths[k] / 8)))  # drop frames that only saw padding
                q = probs[row, :t_used].astype(np.float64)
                q /= q.sum(axis=1, keepdims=True)  # float32 rounding
                out[k] = _softmax(candidate_log_likelihoods(q))
        return out


def _paddle_or_none(model_dir: str, threads: int | None, device: str) -> Recogniser | None:
    """PaddleOCR's recogniser, or None (with a warning) where it cannot load: SPEC §2, the offline engine is the
    default where the other cannot load."""
    try:
        from shiftclipper_tracker.paddle_rec import load_paddle_recogniser

        return load_paddle_recogniser(model_dir, threads, device)
    except Exception as exc:  # ImportError, or whatever PaddleOCR raises for a model it cannot load
        log.warning("paddleocr_unavailable", error=f"{type(exc).__name__}: {exc}", using="rapidocr")
        return None


def ocr_files(paths: list[str], reader: JerseyReader | None = None) -> Iterator[dict[str, object]]:
    """CLI hook (`shiftclipper ocr FILE...`): one dict per image, in order."""
    reader = reader or JerseyReader()
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        read = reader.read(img) if img is not None else None
        yield {
            "file": path,
            "number": read.number if read else None,
            "confidence": read.confidence if read else 0.0,
        }
