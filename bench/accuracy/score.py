"""Shift-accuracy metrics (SPEC §5): predicted vs true on-ice intervals, both as [(start_s, end_s)].

- matching: one-to-one, greedy by IoU (highest first), a pair counts when its IoU >= `min_iou` (0.5);
- recall = matched / true shifts, precision = matched / predicted shifts (1.0 when the denominator is 0);
- boundary error: median over matched pairs of |start error| and |end error| together (seconds);
- TOI error: |predicted total - true total| / true total (time on ice, segments assumed disjoint).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Interval = tuple[float, float]

TARGETS = {"recall": 0.95, "precision": 0.95, "boundary_s": 0.5, "toi_error": 0.05}


def iou(a: Interval, b: Interval) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def match(pred: Sequence[Interval], truth: Sequence[Interval], min_iou: float = 0.5) -> list[tuple[int, int, float]]:
    """One-to-one pairs (pred index, truth index, IoU) with IoU >= min_iou, greedy by IoU, sorted by truth."""
    pairs = sorted(
        ((iou(p, t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)),
        key=lambda x: (-x[0], x[2], x[1]),
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    out = []
    for value, i, j in pairs:
        if value < min_iou or value <= 0.0:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        out.append((i, j, value))
    return sorted(out, key=lambda x: x[1])


def boundary_errors(
    pred: Sequence[Interval], truth: Sequence[Interval], pairs: Sequence[tuple[int, int, float]]
) -> list[float]:
    """|start error| and |end error| (seconds) of every matched pair, in truth order."""
    errors = []
    for i, j, _ in pairs:
        errors.append(abs(pred[i][0] - truth[j][0]))
        errors.append(abs(pred[i][1] - truth[j][1]))
    return errors


def toi_error(pred: Sequence[Interval], truth: Sequence[Interval]) -> float:
    """Relative error of the total time on ice; inf when there is no true time but some predicted."""
    true_total = sum(e - s for s, e in truth)
    pred_total = sum(e - s for s, e in pred)
    if true_total <= 0:
        return 0.0 if pred_total <= 0 else float("inf")
    return abs(pred_total - true_total) / true_total


@dataclass(frozen=True)
class Score:
    recall: float
    precision: float
    boundary_s: float | None
    """Median boundary error of matched pairs; None when nothing matched."""
    toi_error: float
    matched: int
    n_pred: int
    n_true: int

    def passes(self, targets: dict[str, float] = TARGETS) -> dict[str, bool]:
        return {
            "recall": self.recall >= targets["recall"],
            "precision": self.precision >= targets["precision"],
            "boundary_s": self.boundary_s is not None and self.boundary_s <= targets["boundary_s"],
            "toi_error": self.toi_error <= targets["toi_error"],
        }


def score(pred: Sequence[Interval], truth: Sequence[Interval], min_iou: float = 0.5) -> Score:
    pairs = match(pred, truth, min_iou)
    errors = boundary_errors(pred, truth, pairs)
    return Score(
        recall=len(pairs) / len(truth) if truth else 1.0,
        precision=len(pairs) / len(pred) if pred else 1.0,
        boundary_s=statistics.median(errors) if errors else None,
        toi_error=toi_error(pred, truth),
        matched=len(pairs),
        n_pred=len(pred),
        n_true=len(truth),
    )
