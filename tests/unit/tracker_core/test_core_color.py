from __future__ import annotations

import numpy as np
import pytest

from shiftclipper_tracker.core.color import (
    color_match,
    colour_changed_at,
    hex_to_lab,
    hex_to_rgb,
    hue_differs,
    lab_distance,
    lab_distance_array,
    rgb_array_to_lab,
    rgb_to_lab,
)
from shiftclipper_tracker.core.observations import Lab

TEAM = hex_to_lab("#c8102e")
WHITE = hex_to_lab("#ffffff")


def test_reference_conversions() -> None:
    assert hex_to_rgb("#C8102E") == (200, 16, 46)
    assert rgb_to_lab((255, 255, 255)) == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert rgb_to_lab((0, 0, 0)) == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
    assert hex_to_lab("#ff0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.05)


def test_array_conversion_matches_scalar() -> None:
    rgb = np.array([[150, 30, 40], [190, 195, 205], [0, 38, 84]], dtype=np.uint8)
    lab = rgb_array_to_lab(rgb)
    assert lab.shape == (3, 3)
    for row, colour in zip(lab, rgb, strict=True):
        assert tuple(row) == pytest.approx(rgb_to_lab(tuple(int(c) for c in colour)))
    dists = lab_distance_array(lab, np.array(TEAM))
    assert dists[0] == pytest.approx(lab_distance(tuple(lab[0]), TEAM))


def test_shaded_team_colour_passes_white_opponent_rejected() -> None:
    shaded = rgb_to_lab((150, 30, 40))  # '#c8102e' under rink lighting
    darker = rgb_to_lab((120, 25, 35))
    white_torso = rgb_to_lab((190, 195, 205))
    assert lab_distance(shaded, TEAM) < 15  # plain ΔE76 would be 22
    assert color_match(shaded, TEAM, WHITE, 40.0) > 0.8
    assert color_match(darker, TEAM, WHITE, 40.0) > 0.7
    assert color_match(white_torso, TEAM, WHITE, 40.0) == 0.0
    assert color_match(white_torso, TEAM, None, 40.0) == 0.0  # too far even without an opponent colour


def test_opponent_closer_is_rejected_even_within_distance() -> None:
    orange = hex_to_lab("#fc4c02")
    torso = rgb_to_lab((230, 80, 20))  # an orange jersey, within 40 of our red
    assert color_match(torso, TEAM, None, 40.0) > 0.0
    assert color_match(torso, TEAM, orange, 40.0) == 0.0


def test_hue_outweighs_shading() -> None:
    navy = hex_to_lab("#002654")
    assert lab_distance(navy, TEAM) > 50  # far beyond any preset gate (<= 40)
    assert color_match(rgb_to_lab((20, 40, 90)), TEAM, None, 40.0) == 0.0


def test_a_shaded_light_blue_torso_is_not_a_dark_maroon_one() -> None:
    """Measured on the labelled crops: a white/light-blue away jersey in shade against the maroon home colour.
    Close enough by distance (the hue arc is taken at its low chroma), rejected by hue."""
    maroon = hex_to_lab("#731f35")  # L 26, hue 11 deg
    for torso in [(59.8, 6.7, -19.0), (70.7, 2.1, -11.7), (26.6, 17.8, -14.9)]:
        assert lab_distance(torso, maroon) < 35.0  # the distance alone would let it in
        assert hue_differs(torso, maroon)
        assert color_match(torso, maroon, None, 35.0) == 0.0
    for torso in [(25.7, 40.9, 10.3), (42.1, 24.0, 9.8), (28.0, 40.0, -20.0)]:  # maroon, faded, bluish extreme
        assert not hue_differs(torso, maroon)
        assert color_match(torso, maroon, None, 35.0) > 0.5
    assert not hue_differs((70.0, 1.0, -5.0), maroon)  # near-grey: hue means nothing, the distance decides


def test_colour_changed_at_finds_a_new_wearer_not_an_occluder() -> None:
    now, other = (26.0, 40.0, 9.0), (45.0, 15.0, 3.0)  # the 5-minute seed-3 game's hand-over

    def samples(*runs: tuple[tuple[float, float, float], int]) -> list[tuple[float, Lab]]:
        labs = [lab for lab, n in runs for _ in range(n)]
        return [(round(0.1 * i, 1), lab) for i, lab in enumerate(labs)]

    assert colour_changed_at(samples((other, 13), (now, 7)), now, 1.0) == 1.3  # another skater, then ours
    assert colour_changed_at(samples((other, 5), (now, 7)), now, 1.0) is None  # 0.4 s: someone passing in front
    assert colour_changed_at(samples((now, 10), (other, 13), (now, 7)), now, 1.0) is None  # ours before: occluded
    assert colour_changed_at(samples((now, 20)), now, 1.0) is None
    assert colour_changed_at(samples(((30.0, 45.0, 15.0), 13), (now, 7)), now, 1.0) is None  # shading: same jersey
