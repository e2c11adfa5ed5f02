"""Can a player's colour appearance tell him from his teammates? Measured on the labelled broadcast crops.

The issue asks for re-linking the target's tracklets "by colour, position and appearance". Re-linking already
requires the jersey colour (the gate) and a position in reach; this benchmark asks whether a whole-body colour
descriptor would add anything: for pairs of crops from different frames of the one labelled game, is the
descriptor distance smaller for the same player (same team and number) than for two teammates?

    .venv/bin/python -m bench.appearance

Prints, per descriptor, the ROC AUC of "same player" against "teammate" and against "opponent" (0.5 = no better
than chance), over all frame pairs and over pairs at most `--near` frame numbers apart (a re-link gap). The team
of a crop is its torso colour (`bench.accuracy.generate.load_crops`), so "opponent" pairs are separated by the
colour gate already; the teammate column is the one that matters.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from bench.accuracy.generate import CROPS_DIR, Crop, load_crops

Descriptor = Callable[[np.ndarray], np.ndarray]
BODY_BANDS = ((0.0, 0.15), (0.15, 0.55), (0.55, 1.0))
"""Head and shoulders, the jersey, pants and legs (fractions of the box height); the central 60 % of the width."""


def _bands(img: np.ndarray, cuts: tuple[tuple[float, float], ...] = BODY_BANDS) -> list[np.ndarray]:
    h, w = img.shape[:2]
    x1, x2 = int(0.2 * w), max(int(0.2 * w) + 1, int(0.8 * w))
    return [img[int(a * h) : max(int(a * h) + 1, int(b * h)), x1:x2] for a, b in cuts]


def _lab(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab).reshape(-1, 3)


def band_medians(img: np.ndarray) -> np.ndarray:
    """Per-band CIELAB median (9 numbers): the cheapest descriptor, the gate's own measure on three bands."""
    return np.concatenate([np.median(_lab(b), axis=0) for b in _bands(img)])


def band_lab_histograms(img: np.ndarray, bins: int = 4) -> np.ndarray:
    """Per-band joint L x a x b histogram (bins^3 each), normalised: how much of each colour, not only the median."""
    out = []
    for b in _bands(img):
        lab = _lab(b)
        idx = np.clip((lab[:, 0] / 100 * bins).astype(int), 0, bins - 1) * bins * bins
        idx += np.clip(((lab[:, 1] + 60) / 120 * bins).astype(int), 0, bins - 1) * bins
        idx += np.clip(((lab[:, 2] + 60) / 120 * bins).astype(int), 0, bins - 1)
        hist = np.bincount(idx, minlength=bins**3).astype(float)
        out.append(hist / hist.sum())
    return np.concatenate(out)


def hsv_histograms(img: np.ndarray) -> np.ndarray:
    """Hue x saturation histograms (8 x 4) of the upper and lower half: the classic colour re-id descriptor."""
    out = []
    for b in _bands(img, ((0.0, 0.5), (0.5, 1.0))):
        hsv = cv2.cvtColor(np.ascontiguousarray(b), cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel().astype(float)
        out.append(hist / hist.sum())
    return np.concatenate(out)


def euclidean(x: np.ndarray, y: np.ndarray, parts: int) -> float:
    return float(np.linalg.norm(x - y))


def hellinger(x: np.ndarray, y: np.ndarray, parts: int) -> float:
    """Mean Hellinger distance of the `parts` normalised histograms the descriptors are made of."""
    pairs = zip(np.split(x, parts), np.split(y, parts), strict=True)
    return float(np.mean([np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(a * b)))) for a, b in pairs]))


DESCRIPTORS: dict[str, tuple[Descriptor, Callable[[np.ndarray, np.ndarray, int], float], int]] = {
    "band CIELAB medians (9)": (band_medians, euclidean, 3),
    "band CIELAB histograms (3 x 64)": (band_lab_histograms, hellinger, 3),
    "HSV histograms, upper/lower (2 x 32)": (hsv_histograms, hellinger, 2),
}


def auc(smaller: list[float], larger: list[float]) -> float:
    """P(a distance from `smaller` < one from `larger`), ties half: the ROC AUC of the distance as a test."""
    if not smaller or not larger:
        return float("nan")
    a, b = np.asarray(smaller)[:, None], np.asarray(larger)[None, :]
    return float(np.mean(a < b) + 0.5 * np.mean(a == b))


def frame_of(crop: Crop) -> int:
    """`frm_<number>_<frame>_<det>.jpg`: crops of one frame are different players."""
    return int(crop.file.split("_")[2])


def pair_distances(
    crops: list[Crop], describe: Descriptor, dist: Callable[[np.ndarray, np.ndarray, int], float], parts: int, near: int
) -> dict[str, list[float]]:
    """Distances of every cross-frame pair, by relation; `_near` keys for pairs at most `near` frames apart."""
    feats = [describe(c.img) for c in crops]
    out: dict[str, list[float]] = {k: [] for k in ("same", "mate", "opp", "same_near", "mate_near", "opp_near")}
    for i, j in itertools.combinations(range(len(crops)), 2):
        a, b = crops[i], crops[j]
        if frame_of(a) == frame_of(b):
            continue
        rel = "opp" if a.team != b.team else "same" if a.number == b.number else "mate"
        d = dist(feats[i], feats[j], parts)
        out[rel].append(d)
        if abs(frame_of(a) - frame_of(b)) <= near:
            out[f"{rel}_near"].append(d)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--crops", type=Path, default=CROPS_DIR)
    p.add_argument("--near", type=int, default=90, help="frame numbers apart that count as a re-link gap")
    a = p.parse_args()
    if not (a.crops / "labels.csv").exists():
        sys.exit(f"no labelled crops at {a.crops} (../shared is absent): nothing to measure")
    crops = [c for c in load_crops(a.crops) if c.legible]
    print(f"{len(crops)} legible crops; pairs from different frames; AUC 0.5 = chance, 1.0 = always right")
    head = f"{'same vs mate':>13s} {'(near)':>7s} {'same vs opp':>12s} {'(near)':>7s}"
    print(f"{'descriptor':40s} {head}  pairs same/mate/opp (near)")
    for name, (describe, dist, parts) in DESCRIPTORS.items():
        d = pair_distances(crops, describe, dist, parts, a.near)
        counts = "/".join(str(len(d[k])) for k in ("same", "mate", "opp"))
        near = "/".join(str(len(d[k])) for k in ("same_near", "mate_near", "opp_near"))
        print(
            f"{name:40s} {auc(d['same'], d['mate']):13.3f} {auc(d['same_near'], d['mate_near']):7.3f} "
            f"{auc(d['same'], d['opp']):12.3f} {auc(d['same_near'], d['opp_near']):7.3f}  {counts} ({near})"
        )


if __name__ == "__main__":
    main()
