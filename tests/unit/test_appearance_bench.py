"""The appearance benchmark's measure (bench/appearance.py): AUC and descriptors on drawn players. No video."""

from __future__ import annotations

import numpy as np
import pytest

from bench.accuracy.generate import Crop
from bench.appearance import DESCRIPTORS, auc, pair_distances


def test_auc_counts_ordered_pairs_with_ties_as_half() -> None:
    assert auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert auc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert auc([0.2], [0.2]) == 0.5
    assert auc([0.1, 0.3], [0.2]) == pytest.approx(0.5)


def _player(jersey: tuple[int, int, int], pants: tuple[int, int, int], shade: float) -> np.ndarray:
    """A 192 x 80 BGR player: helmet, jersey, pants; `shade` scales the light (another frame)."""
    img = np.zeros((192, 80, 3), np.uint8)
    img[:30] = (40, 40, 40)
    img[30:106] = jersey
    img[106:] = pants
    return (img * shade).astype(np.uint8)


@pytest.mark.parametrize("name", list(DESCRIPTORS))
def test_descriptors_tell_a_differently_dressed_player_from_the_same_one(name: str) -> None:
    red, white, black, blue = (30, 30, 200), (230, 230, 230), (20, 20, 20), (160, 60, 20)
    crops = [
        Crop("frm_4_10_1.jpg", "4", "red", True, _player(red, black, 1.0)),
        Crop("frm_4_20_1.jpg", "4", "red", True, _player(red, black, 0.9)),
        Crop("frm_8_20_2.jpg", "8", "red", True, _player(red, blue, 1.0)),
        Crop("frm_5_30_3.jpg", "5", "white", True, _player(white, white, 1.0)),
    ]
    describe, dist, parts = DESCRIPTORS[name]
    d = pair_distances(crops, describe, dist, parts, near=10)
    assert len(d["same"]) == 1 and len(d["same_near"]) == 1  # frames 10 and 20
    assert len(d["mate"]) == 1  # #8 against the #4 of frame 10 (not the one of its own frame)
    assert max(d["same"]) < min(d["mate"]) and max(d["same"]) < min(d["opp"])
