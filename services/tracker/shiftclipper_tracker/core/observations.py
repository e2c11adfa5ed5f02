"""Per-frame observations: the only input of the pure tracking core.

Adapters (decoder, detector, colour sampler, OCR) produce these; the core never sees pixels.
"""

from __future__ import annotations

import msgspec

Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 normalised to the frame (0..1)."""
Lab = tuple[float, float, float]
"""CIELAB colour (L 0..100, a and b roughly -128..127)."""


class NumberRead(msgspec.Struct, frozen=True):
    """One jersey-number read on one crop. `number` may be partial (one digit of two)."""

    number: str
    confidence: float


class TrackObs(msgspec.Struct, kw_only=True):
    track_id: int
    box: Box
    det_conf: float
    torso_lab: Lab | None = None
    """Median torso colour; None when the torso was too small or occluded to sample."""
    read: NumberRead | None = None
    """Present only on frames where OCR ran on this track (and produced text)."""


class FrameObs(msgspec.Struct, kw_only=True):
    frame_index: int
    t: float
    """Video time, seconds."""
    tracks: list[TrackObs]
