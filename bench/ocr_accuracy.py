"""Jersey-number OCR accuracy on the labelled NHL crops (SPEC §5 "Tracking accuracy").

    .venv/bin/python bench/ocr_accuracy.py [--crops DIR] [--engines digits,rapidocr,ensemble]
                                           [--no-baseline] [--threads N] [--errors]
                                           [--engines paddleocr --paddle-model-dir DIR]

Prints, for the JerseyReader with each engine (ours: "digits", the synthetic-trained CNN; "rapidocr":
PP-OCR recognition on torso bands; "ensemble": both averaged; "paddleocr": the same views on PaddleOCR's
recogniser, e.g. the bundled one converted by `bench/paddle_model.py`) and for the naive baseline (rapidocr
det+cls+rec on the whole crop, digits kept) in the same run: exact accuracy on all crops and on
legible ones (review column "ok" or "corrected"), wrong reads claimed at confidence >= 0.9,
abstentions, ms per crop, and a reliability table of each reader's confidence. An abstention (None)
counts as not exact. Exits 0 when the crops are absent (../shared is not part of the repository).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CROPS = ROOT.parent / "shared" / "media" / "jersey_crops_nhl_ocr"


@dataclass
class Crop:
    file: str
    label: str
    legible: bool
    img: np.ndarray


def load_crops(folder: Path) -> list[Crop]:
    with (folder / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    crops = []
    for r in rows:
        img = cv2.imread(str(folder / r["file"]), cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"cannot read {folder / r['file']}")
        legible = r["review"].startswith(("ok", "corrected"))
        crops.append(Crop(r["file"], r["jersey_number"].strip(), legible, img))
    return crops


@dataclass
class Result:
    name: str
    numbers: list[str | None]
    confidences: list[float]
    ms_per_crop: float


def summarise(res: Result, crops: list[Crop]) -> dict[str, float]:
    ok = np.array([n is not None and n == c.label for n, c in zip(res.numbers, crops, strict=True)])
    answered = np.array([n is not None for n in res.numbers])
    conf = np.array(res.confidences)
    leg = np.array([c.legible for c in crops])
    return {
        "acc_all": float(ok.mean()),
        "acc_legible": float(ok[leg].mean()),
        "precision_answered": float(ok[answered].mean()) if answered.any() else 0.0,
        "abstain": float(1 - answered.mean()),
        "wrong_at_0.9": int((answered & ~ok & (conf >= 0.9)).sum()),
        "ms_per_crop": res.ms_per_crop,
    }


def run_reader(crops: list[Crop], threads: int | None, batch: int, engine: str, paddle_dir: str = "") -> Result:
    from shiftclipper_tracker.ocr import JerseyReader

    reader = JerseyReader(engine, threads=threads, paddle_model_dir=paddle_dir)
    if reader.engine != engine:
        raise SystemExit(f"engine {engine} could not load (see the warning above)")
    reader.read_batch([crops[0].img])  # warm-up (ORT allocations)
    t0 = time.perf_counter()
    reads = []
    for i in range(0, len(crops), batch):
        reads += reader.read_batch([c.img for c in crops[i : i + batch]])
    ms = (time.perf_counter() - t0) * 1000 / len(crops)
    return Result(
        f"JerseyReader {engine} (batch {batch})",
        [r.number if r else None for r in reads],
        [r.confidence if r else 0.0 for r in reads],
        ms,
    )


def run_baseline(crops: list[Crop], threads: int | None) -> Result:
    """rapidocr out of the box on the whole crop; every bundled model passed explicitly (no download)."""
    from rapidocr import RapidOCR

    models = Path(sys.modules["rapidocr"].__file__ or "").parent / "models"
    n = threads or 2
    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
            "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
            "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
            "EngineConfig.onnxruntime.intra_op_num_threads": n,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )
    engine(crops[0].img)
    numbers: list[str | None] = []
    confs: list[float] = []
    t0 = time.perf_counter()
    for c in crops:
        out = engine(c.img)
        txts = list(out.txts or ())
        scores = list(out.scores or ())
        best: tuple[str, float] | None = None
        for txt, score in zip(txts, scores, strict=False):
            digits = re.sub(r"\D", "", txt)
            if 1 <= len(digits) <= 2 and (best is None or score > best[1]):
                best = (digits, float(score))
        numbers.append(best[0] if best else None)
        confs.append(best[1] if best else 0.0)
    ms = (time.perf_counter() - t0) * 1000 / len(crops)
    return Result("baseline rapidocr det+rec whole crop", numbers, confs, ms)


def reliability(res: Result, crops: list[Crop]) -> None:
    conf = np.array(res.confidences)
    ok = np.array([n == c.label for n, c in zip(res.numbers, crops, strict=True)])
    answered = np.array([n is not None for n in res.numbers])
    print(f"\nreliability of {res.name} (answered crops only):")
    print("  conf bin      n   exact")
    edges = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
    for lo, hi in itertools.pairwise(edges):
        m = answered & (conf >= lo) & (conf < hi)
        if m.any():
            print(f"  [{lo:.1f}, {min(hi, 1.0):.1f})  {m.sum():4d}   {ok[m].mean():.2f}")
    print("  by digits read (evidence.DOUBT_WEIGHT: a one-digit read's precision relative to a two-digit read's):")
    one = np.array([n is not None and len(n) == 1 for n in res.numbers])
    for lo, hi in ((0.2, 0.5), (0.5, 0.8), (0.8, 1.01)):
        m = answered & (conf >= lo) & (conf < hi)
        p1, p2 = (ok[m & sel].mean() if (m & sel).any() else float("nan") for sel in (one, ~one))
        print(
            f"    [{lo:.1f}, {min(hi, 1.0):.1f}): one digit {p1:.2f} exact ({(m & one).sum()}), "
            f"two digits {p2:.2f} ({(m & ~one).sum()}), ratio {p1 / p2 if p2 else float('nan'):.2f}"
        )
    print("  coverage/precision at threshold:")
    for t in (0.3, 0.5, 0.7, 0.9):
        m = answered & (conf >= t)
        prec = ok[m].mean() if m.any() else float("nan")
        print(f"    conf >= {t:.1f}: {m.mean():.2f} of crops, {prec:.2f} exact, {int((m & ~ok).sum())} wrong")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", type=Path, default=DEFAULT_CROPS)
    ap.add_argument("--engines", default="digits,rapidocr,ensemble", help="JerseyReader engines, comma-separated")
    ap.add_argument("--paddle-model-dir", default="", help="local PaddleOCR recogniser for --engines paddleocr")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (spec: 2 cores)")
    ap.add_argument("--batch", type=int, default=8, help="crops per read_batch call")
    ap.add_argument("--errors", action="store_true", help="list every crop read wrong")
    args = ap.parse_args()
    if not (args.crops / "labels.csv").is_file():
        print(f"SKIP: {args.crops} is absent (the shared test material is not part of the repository)")
        return 0
    crops = load_crops(args.crops)
    print(f"{len(crops)} crops, {sum(c.legible for c in crops)} legible, {args.threads} ORT threads")
    engines = [e for e in args.engines.split(",") if e]
    from shiftclipper_tracker.digits.infer import MODEL_PATH

    if not MODEL_PATH.is_file() and any(e in ("digits", "ensemble") for e in engines):
        print(f"note: {MODEL_PATH.name} not trained (python -m shiftclipper_tracker.digits.train): no digits/ensemble")
        engines = [e for e in engines if e not in ("digits", "ensemble")]
    if not engines and args.no_baseline:
        print("nothing to measure: no reader engine left and --no-baseline given")
        return 2
    results = [run_reader(crops, args.threads, args.batch, e, args.paddle_model_dir) for e in engines]
    if not args.no_baseline:
        results.append(run_baseline(crops, args.threads))
    summaries = [summarise(r, crops) for r in results]
    keys = list(summaries[0])
    print(f"\n{'':40s}" + "".join(f"{k:>20s}" for k in keys))
    for r, s in zip(results, summaries, strict=True):
        cells = "".join(f"{s[k]:>20d}" if isinstance(s[k], int) else f"{s[k]:>20.3f}" for k in keys)
        print(f"{r.name:40s}{cells}")
    if not args.no_baseline and summaries[-1]["acc_legible"] > 0:
        for r, s in zip(results[:-1], summaries[:-1], strict=True):
            print(f"{r.name} / baseline, exact on legible: {s['acc_legible'] / summaries[-1]['acc_legible']:.1f}x")
    for r in results[: len(engines)]:
        reliability(r, crops)
    if args.errors:
        for r in results[: len(engines)]:
            print(f"\nwrong or missing reads of {r.name} (file, label, read, confidence):")
            for c, n, conf in zip(crops, r.numbers, r.confidences, strict=True):
                if n != c.label:
                    print(f"  {c.file:24s} {c.label:>3s} {n!s:>5s} {conf:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
