"""Shift-accuracy scorer (bench/accuracy/score.py): IoU matching, boundary error, TOI error. No video."""

from __future__ import annotations

import math

import pytest

from bench.accuracy.score import TARGETS, iou, match, score, toi_error


def test_iou() -> None:
    assert iou((0, 10), (0, 10)) == 1.0
    assert iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert iou((0, 10), (10, 20)) == 0.0
    assert iou((0, 10), (20, 30)) == 0.0
    assert iou((2, 4), (0, 10)) == pytest.approx(0.2)


def test_match_threshold_is_inclusive() -> None:
    # IoU exactly 0.5: (0, 10) vs (0, 5) -> 5 / 10.
    assert match([(0, 5)], [(0, 10)]) == [(0, 0, 0.5)]
    assert match([(0, 4.9)], [(0, 10)]) == []


def test_match_is_one_to_one_and_prefers_best_iou() -> None:
    truth = [(0, 10), (20, 30)]
    pred = [(1, 10), (0, 10), (21, 30)]
    pairs = match(pred, truth)
    assert [(i, j) for i, j, _ in pairs] == [(1, 0), (2, 1)]  # the exact pred wins truth 0; (1, 10) unmatched


def test_merged_prediction_matches_at_most_one_shift() -> None:
    # One long prediction spanning both shifts and the gap: IoU 20/50 with each, below 0.5.
    truth = [(0, 20), (30, 50)]
    s = score([(0, 50)], truth)
    assert s.matched == 0
    assert s.recall == 0.0 and s.precision == 0.0


def test_perfect() -> None:
    truth = [(5.0, 40.0), (100.0, 150.0)]
    s = score(truth, truth)
    assert (s.recall, s.precision, s.boundary_s, s.toi_error) == (1.0, 1.0, 0.0, 0.0)
    assert all(s.passes().values())


def test_boundary_error_is_median_of_starts_and_ends() -> None:
    truth = [(10.0, 50.0), (100.0, 140.0)]
    pred = [(10.2, 49.0), (100.4, 140.0)]  # errors 0.2, 1.0, 0.4, 0.0 -> median 0.3
    s = score(pred, truth)
    assert s.matched == 2
    assert s.boundary_s == pytest.approx(0.3)


def test_toi_error() -> None:
    truth = [(0.0, 40.0), (100.0, 160.0)]  # 100 s
    assert toi_error([(0.0, 38.0), (100.0, 157.0)], truth) == pytest.approx(0.05)
    assert toi_error([], truth) == 1.0
    assert toi_error([], []) == 0.0
    assert math.isinf(toi_error([(0, 1)], []))


def test_missed_and_false_shifts() -> None:
    truth = [(0.0, 30.0), (100.0, 130.0), (200.0, 230.0)]
    pred = [(1.0, 30.0), (101.0, 131.0), (60.0, 70.0)]  # third true shift missed, one false shift
    s = score(pred, truth)
    assert (s.matched, s.n_pred, s.n_true) == (2, 3, 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.precision == pytest.approx(2 / 3)
    assert s.boundary_s == pytest.approx(1.0)
    assert s.toi_error == pytest.approx(abs(69 - 90) / 90)
    assert s.passes() == {"recall": False, "precision": False, "boundary_s": False, "toi_error": False}


def test_empty_cases() -> None:
    assert score([], []).recall == 1.0 and score([], []).precision == 1.0
    s = score([], [(0.0, 10.0)])
    assert (s.recall, s.precision, s.boundary_s) == (0.0, 1.0, None)
    assert not s.passes()["boundary_s"]


def test_targets_match_spec() -> None:
    assert TARGETS == {"recall": 0.95, "precision": 0.95, "boundary_s": 0.5, "toi_error": 0.05}
