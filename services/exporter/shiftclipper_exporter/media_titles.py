"""Reel title cards: a short still before each clip ("SHIFT 3", game time, duration).

The text is drawn with a built-in 5x7 bitmap font on a numpy frame, so no font file, freetype or
OpenCV is needed in the exporter image, and the same card always renders the same pixels.
"""

from __future__ import annotations

import os

import numpy as np

from .media_probe import run_ffmpeg

_FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}
GLYPHS = {c: np.array([[b == "1" for b in row] for row in rows.split()], dtype=bool) for c, rows in _FONT.items()}


def clock(seconds: float) -> str:
    """Game time as m:ss, or h:mm:ss past an hour."""
    total = round(max(0.0, seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def title_lines(index: int, start_s: float, end_s: float) -> list[str]:
    return [f"SHIFT {index + 1}", f"{clock(start_s)} - {clock(end_s)}", clock(end_s - start_s)]


def render_card(lines: list[str], width: int, height: int) -> np.ndarray:
    """A grey-level frame with the lines centred in white on near-black."""
    img = np.full((height, width), 24, dtype=np.uint8)
    longest = max(len(line) for line in lines)
    scale = max(1, min(width // (longest * 6 + 2), height // (len(lines) * 10 + 2)))
    line_h = 10 * scale
    top = (height - line_h * len(lines)) // 2 + 2 * scale
    for row, line in enumerate(lines):
        left = (width - len(line) * 6 * scale) // 2
        for col, char in enumerate(line):
            glyph = np.kron(GLYPHS.get(char, GLYPHS[" "]), np.ones((scale, scale), dtype=bool))
            y, x = top + row * line_h, left + col * 6 * scale
            img[y : y + glyph.shape[0], x : x + glyph.shape[1]][glyph] = 235
    return img


def make_card(dst: str, lines: list[str], width: int, height: int, seconds: float = 1.5, fps: float = 30.0) -> str:
    """An H.264 mp4 showing the card for `seconds` (no audio: the reel adds silence)."""
    width, height = width + width % 2, height + height % 2
    still = os.path.splitext(dst)[0] + ".pgm"
    with open(still, "wb") as fh:
        fh.write(f"P5 {width} {height} 255\n".encode() + render_card(lines, width, height).tobytes())
    args = ["-loop", "1", "-framerate", f"{fps:.3f}", "-i", still, "-t", f"{seconds:.3f}", "-vf", "format=yuv420p"]
    run_ffmpeg([*args, "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-movflags", "+faststart", dst])
    os.unlink(still)
    return dst
