"""Colour and crop adapter: the jersey band of a person box, its CIELAB colour, and the crop for OCR.

Colour: per-channel median of the torso band in CIELAB (cv2 on float32 BGR in 0..1, so L is 0..100 and a, b
are true CIELAB units, about -128..127). No pixel masking: the band (15 %-55 % of the box height, central
60 % of its width) is mostly jersey for an upright skater, and the median already ignores any minority of
ice, boards or numbers. Masking "ice white" or "very dark" pixels was rejected on purpose: white and black
jerseys are common (away whites, black alternates), and a mask would remove exactly the jersey and keep
the numbers and trim, giving the wrong colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from .core.observations import Box, Lab

TORSO_TOP = 0.15
TORSO_BOTTOM = 0.55
TORSO_SIDE = 0.20
"""Fraction of the box width cut from each side (keeps the central 60 %)."""
MIN_TORSO_PX = 4
"""A torso band narrower or shorter than this (pixels) gives None."""
MIN_PLAYER_PX = 8
COLOUR_SAMPLE_PX = 48
"""Torso bands larger than this on a side are shrunk (area averaging) before the median: same answer, faster."""


def _pixel_rect(
    shape: tuple[int, ...], box: Box, top: float, bottom: float, left: float, right: float
) -> tuple[int, int, int, int]:
    """Sub-rectangle of a normalised box (fractions of the box), in clipped pixel coordinates."""
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    px1 = round((x1 + bw * left) * w)
    px2 = round((x1 + bw * right) * w)
    py1 = round((y1 + bh * top) * h)
    py2 = round((y1 + bh * bottom) * h)
    return max(0, px1), max(0, py1), min(w, px2), min(h, py2)


def torso_crop(image: np.ndarray, box_norm: Box) -> np.ndarray | None:
    """The jersey band of a person box (a view into `image`), or None when it is too small or off-frame."""
    x1, y1, x2, y2 = _pixel_rect(image.shape, box_norm, TORSO_TOP, TORSO_BOTTOM, TORSO_SIDE, 1 - TORSO_SIDE)
    if x2 - x1 < MIN_TORSO_PX or y2 - y1 < MIN_TORSO_PX:
        return None
    return image[y1:y2, x1:x2]


def bgr_to_lab(pixels_bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR (any shape ending in 3) to float32 CIELAB (L 0..100)."""
    img = np.ascontiguousarray(pixels_bgr, dtype=np.uint8).reshape(-1, 1, 3)
    return cv2.cvtColor(img.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab).reshape(-1, 3)


CHROMATIC_C = 18.0
"""CIELAB chroma above which a pixel counts as coloured (jersey dye) rather than white/grey/black."""
CHROMATIC_SHARE = 0.3
"""A torso whose coloured pixels reach this share is described by them alone: close-ups are half
white number and stripes, which would drag a plain median to grey. Below it (white or black
jerseys with coloured trim) the plain median describes the jersey."""


def torso_lab(image: np.ndarray, box_norm: Box) -> Lab | None:
    """Jersey colour of the torso band in CIELAB, or None when the band is too small to sample."""
    crop = torso_crop(image, box_norm)
    if crop is None:
        return None
    h, w = crop.shape[:2]
    scale = COLOUR_SAMPLE_PX / max(h, w)
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = bgr_to_lab(crop).reshape(-1, 3)
    coloured = np.hypot(lab[:, 1], lab[:, 2]) > CHROMATIC_C
    if coloured.mean() >= CHROMATIC_SHARE:
        lab = lab[coloured]
    med = np.median(lab, axis=0)
    return float(med[0]), float(med[1]), float(med[2])


def player_crop(image: np.ndarray, box_norm: Box, pad: float = 0.05) -> np.ndarray | None:
    """The whole person box plus `pad` (fraction of its size) on each side, clipped; for OCR. A view."""
    x1, y1, x2, y2 = _pixel_rect(image.shape, box_norm, -pad, 1 + pad, -pad, 1 + pad)
    if x2 - x1 < MIN_PLAYER_PX or y2 - y1 < MIN_PLAYER_PX:
        return None
    return image[y1:y2, x1:x2]
