"""Jersey colours: sRGB -> CIELAB (D65) and an illumination-tolerant colour gate.

Distance metric: CIE76 (Euclidean ΔE*ab) decomposed into lightness, chroma and hue differences,
with lightness and chroma differences halved and hue kept at full weight:

    d = sqrt((ΔL / 2)² + (ΔC / 2)² + ΔH²)       (ΔH² = Δa² + Δb² − ΔC²)

Why: rink lighting, shadows and motion blur shade a jersey along lightness and chroma together
(a #c8102e red measures about (150, 30, 40) on camera: 9 L and 20 C lower, same hue), while a
different team's jersey differs mainly in hue (or is achromatic where ours is saturated). kL = 2
is the CIE94 / CIEDE2000 parametric factor for textiles; we also use 2 for chroma because
shading desaturates. We do not use CIEDE2000 itself: its chroma-dependent compression maps the
presets' `color_max_distance` (40, on the ΔE76 scale) to a far looser gate, and a plain formula
vectorises cheaply over many torsos.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .observations import Lab

_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_EPS = (6 / 29) ** 3
LIGHTNESS_WEIGHT = 0.5
CHROMA_WEIGHT = 1.0
DESATURATION_WEIGHT = 0.2
DESATURATION_FLOOR = 0.3
HUE_GATE_DEG = 45.0
HUE_GATE_MIN_CHROMA = (8.0, 20.0)
"""A torso with at least the first chroma, against a reference with at least the second, whose hue is more than
HUE_GATE_DEG away is another jersey whatever the distance says. The distance takes the hue arc at the
*measured* chroma (so a washed-out jersey of our hue passes), which made a shaded light-blue or white torso
(L 60, chroma 12-20, hue -70 to -90 deg) look like a dark maroon one (L 26, hue 11 deg): d = 28-31 < 35.
On the labelled crops the red team's torso hues run 7-21 deg (5th-95th percentile, extremes -33..22), the
white and navy ones -86..-59: 45 keeps every red crop and rejects every white and navy one."""


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b) in 0..255."""
    text = value.strip().lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {value!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def rgb_array_to_lab(rgb: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, 3) sRGB in 0..255 (uint8 or float) -> (N, 3) CIELAB under D65."""
    c = np.asarray(rgb, dtype=np.float64).reshape(-1, 3) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)
    return lab


def rgb_to_lab(rgb: tuple[int, int, int]) -> Lab:
    lab = rgb_array_to_lab(np.asarray(rgb))[0]
    return float(lab[0]), float(lab[1]), float(lab[2])


def hex_to_lab(value: str) -> Lab:
    return rgb_to_lab(hex_to_rgb(value))


def lab_distance(measured: Lab, reference: Lab) -> float:
    """Illumination-tolerant distance from a measured torso colour to a reference jersey colour."""
    return float(lab_distance_array(np.asarray(measured), np.asarray(reference)))


def lab_distance_array(measured: npt.ArrayLike, reference: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Asymmetric on purpose: references are idealised ("red" is #ff0000, chroma 104) while cameras
    desaturate (a red jersey on video measures chroma 40-50). So losing chroma relative to the
    reference is cheap down to DESATURATION_FLOOR of it, and the hue difference is the arc at the
    *measured* chroma. A white or grey torso against a saturated reference falls below the floor and
    pays the full chroma difference, so it is still rejected."""
    x = np.asarray(measured, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    c_x, c_y = np.hypot(x[..., 1], x[..., 2]), np.hypot(y[..., 1], y[..., 2])
    d_c = c_x - c_y
    desaturated = (d_c < 0) & (c_x >= DESATURATION_FLOOR * c_y)
    chroma_term = np.where(desaturated, DESATURATION_WEIGHT * d_c, CHROMA_WEIGHT * d_c)
    dh = np.abs(np.arctan2(x[..., 2], x[..., 1]) - np.arctan2(y[..., 2], y[..., 1]))
    dh = np.minimum(dh, 2 * np.pi - dh)
    hue_term = 2 * np.minimum(c_x, c_y) * np.sin(dh / 2)
    return np.sqrt((LIGHTNESS_WEIGHT * (x[..., 0] - y[..., 0])) ** 2 + chroma_term**2 + hue_term**2)


def hue_differs(measured: Lab, reference: Lab) -> bool:
    """Both colours chromatic (HUE_GATE_MIN_CHROMA) and their hues more than HUE_GATE_DEG apart."""
    c_x, c_y = math.hypot(measured[1], measured[2]), math.hypot(reference[1], reference[2])
    if c_x < HUE_GATE_MIN_CHROMA[0] or c_y < HUE_GATE_MIN_CHROMA[1]:
        return False
    dh = abs(math.degrees(math.atan2(measured[2], measured[1]) - math.atan2(reference[2], reference[1])))
    return min(dh, 360.0 - dh) > HUE_GATE_DEG


def color_match(torso_lab: Lab, team_lab: Lab, opponent_lab: Lab | None, max_distance: float) -> float:
    """Score in 0.5..1 when the torso passes the gate (1 = exact match), 0 when it is rejected.

    Rejected when farther than `max_distance` from the team colour or of another hue (`hue_differs`), or when
    an opponent colour is given and the torso is at least as close to it as to the team colour.
    """
    d_team = lab_distance(torso_lab, team_lab)
    if d_team > max_distance or hue_differs(torso_lab, team_lab):
        return 0.0
    if opponent_lab is not None and lab_distance(torso_lab, opponent_lab) <= d_team:
        return 0.0
    return 1.0 - 0.5 * d_team / max_distance


CHANGE_DE = 25.0
"""Torso samples farther than this (plain CIE76 ΔE*ab, not the forgiving gate distance) from a track's current
colour show another jersey. On the benchmark games' recordings, the median of a track's next 5 samples is within
6.8-10.3 of the median of its previous 5 at 90 % of places; the two hand-overs on the seed-3 game are 32 and 49."""
CHANGE_SHARE = 0.75
"""Share of far samples needed before the change: a track that showed the current colour before had an occluder
come and go, not a new wearer."""


def colour_changed_at(samples: Sequence[tuple[float, Lab]], now: Lab, min_s: float) -> float | None:
    """When the track's current wearer took it, judged by colour alone: the first sample after the latest run of
    samples far (CHANGE_DE) from `now` lasting `min_s` or more, when the samples before were mostly far too
    (CHANGE_SHARE); else None. ByteTrack can hand an id from one skater to another with no box overlap, and the
    loose jersey gate can pass the first wearer (the 5-minute seed-3 game: a track followed a skater of torso colour
    (45, 15, 3) for 1.3 s, then the red #4, (26, 40, 9), entering from the bench)."""
    far = [math.dist(lab, now) > CHANGE_DE for _, lab in samples]
    end = None
    for is_far, group in itertools.groupby(range(len(samples)), key=far.__getitem__):
        run = list(group)
        if is_far and samples[run[-1]][0] - samples[run[0]][0] >= min_s - 1e-6:
            end = run[-1] + 1
    if end is None or end == len(samples) or sum(far[:end]) < CHANGE_SHARE * end:
        return None
    return samples[end][0]
