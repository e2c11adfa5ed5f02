"""Label space and input preprocessing shared by the renderer, the trainer and the run-time wrapper.

Keeping the torso window here (not in the trainer) is the point: training renders and real crops go
through exactly the same cut-and-resize, so the model never sees a geometry it was not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANDIDATES: tuple[str, ...] = tuple(str(i) for i in range(10)) + tuple(f"{i:02d}" for i in range(100))
"""Every number a jersey can carry: one digit, or two digits (leading zero allowed, e.g. "00", "07")."""

NONE_INDEX = len(CANDIDATES)
"""Model output index of "no legible number" (after the 110 numbers)."""

N_OUT = NONE_INDEX + 1
INPUT_H = 64
INPUT_W = 64


@dataclass(frozen=True, slots=True)
class Window:
    """A torso window as fractions of the whole-player crop (y0..y1, x0..x1)."""

    y0: float
    y1: float
    x0: float
    x1: float


TRAIN_WINDOW = Window(0.06, 0.62, 0.0, 1.0)
"""The window the model is trained on: helmet bottom to hips, full width (players lean and turn)."""


def label_index(number: str) -> int:
    """Class index of a number string ("" = no legible number)."""
    return CANDIDATES.index(number) if number else NONE_INDEX


def cut_window(crop_bgr: np.ndarray, win: Window = TRAIN_WINDOW) -> np.ndarray:
    """The window of a crop, clipped to the image (a view, may be empty)."""
    h, w = crop_bgr.shape[:2]
    y0, y1 = max(0, round(win.y0 * h)), min(h, round(win.y1 * h))
    x0, x1 = max(0, round(win.x0 * w)), min(w, round(win.x1 * w))
    return crop_bgr[y0:y1, x0:x1]


def to_input(crop_bgr: np.ndarray, win: Window = TRAIN_WINDOW) -> np.ndarray:
    """INPUT_H x INPUT_W uint8 grey of the window (grey: jersey colours vary, digit shape does not)."""
    patch = cut_window(crop_bgr, win)
    if patch.size == 0:
        return np.zeros((INPUT_H, INPUT_W), np.uint8)
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    return cv2.resize(grey, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)


def normalise(batch_u8: np.ndarray) -> np.ndarray:
    """N x H x W uint8 -> N x 1 x H x W float32, per-image zero mean / unit std (brightness invariance)."""
    x = batch_u8.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True) + 8.0  # floor: flat patches stay flat, not amplified noise
    return ((x - mean) / std)[:, None]
