"""Jersey-number masks: a number string -> float mask layers (fill, inner outline, outer outline).

Styles come from the system TrueType fonts (DejaVu, Liberation: sans, condensed, serif, mono, oblique),
stretched, thickened and optionally squared off (a morphological close with a square kernel turns round
corners into the block/varsity look), plus OpenCV's Hershey stroke fonts for thin-stroke numbers.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONT_NAMES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansCondensed-BoldOblique.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSans.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "LiberationSans-BoldItalic.ttf",
    "LiberationSerif-Bold.ttf",
    "LiberationMono-Bold.ttf",
)
HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)
GLYPH_PX = 72
"""Digit height the masks are drawn at; the composite is shrunk afterwards, so edges stay anti-aliased."""


@cache
def available_fonts() -> tuple[str, ...]:
    """Paths of the fonts present on this machine (the list above, in order; a missing one is skipped)."""
    found = []
    for name in FONT_NAMES:
        for folder in FONT_DIRS:
            if (folder / name).is_file():
                found.append(str(folder / name))
                break
    return tuple(found)


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _ttf_digit(ch: str, path: str) -> np.ndarray:
    """Tight float mask of one digit, GLYPH_PX tall (the glyph's own ink height)."""
    font = _font(path, int(GLYPH_PX * 1.45))
    x0, y0, x1, y1 = font.getbbox(ch)
    img = Image.new("L", (int(x1 - x0) + 4, int(y1 - y0) + 4), 0)
    ImageDraw.Draw(img).text((2 - x0, 2 - y0), ch, fill=255, font=font)
    mask = np.asarray(img, np.float32) / 255.0
    return _tight(mask, GLYPH_PX)


def _hershey_digit(ch: str, face: int, thick: float) -> np.ndarray:
    scale = 3.0
    width = max(2, round(thick * scale * 6))
    (tw, th), base = cv2.getTextSize(ch, face, scale, width)
    img = np.zeros((th + base + 2 * width, tw + 2 * width), np.uint8)
    cv2.putText(img, ch, (width, th + width), face, scale, 255, width, cv2.LINE_AA)
    return _tight(img.astype(np.float32) / 255.0, GLYPH_PX)


def _tight(mask: np.ndarray, height: int) -> np.ndarray:
    ys, xs = np.nonzero(mask > 0.1)
    if len(ys) == 0:
        return np.zeros((height, height // 2), np.float32)
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    w = max(2, round(mask.shape[1] * height / mask.shape[0]))
    return cv2.resize(mask, (w, height), interpolation=cv2.INTER_AREA)


def _style_digit(ch: str, style: dict[str, float]) -> np.ndarray:
    """One digit in the number's style: font, width stretch, weight change, optional square corners."""
    if style["font"] < 0:
        mask = _hershey_digit(ch, HERSHEY[int(style["hershey"])], style["thick"])
    else:
        mask = _ttf_digit(ch, available_fonts()[int(style["font"])])
    w = max(4, round(mask.shape[1] * style["stretch"]))
    mask = cv2.resize(mask, (w, GLYPH_PX), interpolation=cv2.INTER_AREA)
    weight = int(style["weight"])
    if weight:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(weight) + 1, 2 * abs(weight) + 1))
        mask = cv2.dilate(mask, k) if weight > 0 else cv2.erode(mask, k)
    if style["block"]:
        mask = _squared(mask, int(style["block"]))
    return mask


def _squared(mask: np.ndarray, k: int) -> np.ndarray:
    """Block/varsity look: dilate then erode with a square kernel (closes round corners into square ones)."""
    sq = np.ones((k, k), np.uint8)
    padded = cv2.copyMakeBorder(mask, k, k, k, k, cv2.BORDER_CONSTANT, value=0)
    closed = cv2.erode(cv2.dilate(padded, sq), sq)
    return (closed[k:-k, k:-k] > 0.5).astype(np.float32)


def random_style(rng: np.random.Generator) -> dict[str, float]:
    use_hershey = rng.random() < 0.12
    return {
        "font": -1.0 if use_hershey else float(rng.integers(len(available_fonts()))),
        "hershey": float(rng.integers(len(HERSHEY))),
        "thick": float(rng.uniform(0.6, 1.4)),
        "stretch": float(rng.uniform(0.6, 1.35)),
        "weight": float(rng.choice([-2, -1, 0, 0, 1, 2, 3, 4])),
        "block": float(rng.choice([0, 0, 7, 11])),
        "gap": float(rng.uniform(-0.02, 0.25)),
    }


def number_layers(number: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fill, outline1, outline2) float masks of the whole number, GLYPH_PX tall plus outline margin.

    outline1 / outline2 are rings around the fill (zero when the style has no such trim)."""
    style = random_style(rng)
    digits = [_style_digit(ch, style) for ch in number]
    gap = round(style["gap"] * GLYPH_PX)
    width = sum(d.shape[1] for d in digits) + gap * (len(digits) - 1)
    o1 = int(rng.choice([0, 0, 3, 5, 7]))
    o2 = int(rng.choice([0, 0, 0, 4, 6])) if o1 else 0
    margin = o1 + o2 + 2
    fill = np.zeros((GLYPH_PX + 2 * margin, max(width, 1) + 2 * margin + abs(gap)), np.float32)
    x = margin + max(0, -gap)
    for d in digits:
        fill[margin : margin + GLYPH_PX, x : x + d.shape[1]] = np.maximum(
            fill[margin : margin + GLYPH_PX, x : x + d.shape[1]], d
        )
        x += d.shape[1] + gap
    ring1 = _ring(fill, o1)
    ring2 = _ring(np.maximum(fill, ring1), o2)
    return fill, ring1, ring2


def _ring(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return np.zeros_like(mask)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return np.clip(cv2.dilate(mask, k) - mask, 0.0, 1.0)
