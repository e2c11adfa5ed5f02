"""Small geometry helpers on normalised frame coordinates."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .observations import Box

Point = tuple[float, float]


def foot_point(box: Box) -> Point:
    """Bottom-centre of a box: where the skater touches the ice."""
    return (box[0] + box[2]) / 2, box[3]


FRAME_EDGE = 0.005
"""A box this close to the frame's left or right border (normalised) runs past it."""


def cut_by_frame_edge(box: Box) -> bool:
    """Whether the box runs into the frame's left or right border: part of the skater is out of view."""
    return box[0] <= FRAME_EDGE or box[2] >= 1.0 - FRAME_EDGE


def box_center(box: Box) -> Point:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def box_contains(box: Box, x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def distance(p: Point, q: Point) -> float:
    return math.hypot(p[0] - q[0], p[1] - q[1])


def point_in_polygon(point: Point, polygon: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting; a polygon with fewer than 3 vertices contains nothing."""
    if len(polygon) < 3:
        return False
    x, y = point
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        xi, yi = polygon[i][0], polygon[i][1]
        xj, yj = polygon[j][0], polygon[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def overlap_of_smaller(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area: 1 when one box hides inside the other."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller if smaller > 0 else 0.0


def widen(box: Box, factor: float) -> Box:
    """The box grown sideways by `factor` of its width on each side (heights are left alone)."""
    pad = (box[2] - box[0]) * factor
    return box[0] - pad, box[1], box[2] + pad, box[3]
