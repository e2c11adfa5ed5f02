"""Train the jersey-digit CNN on synthetic renders only and export it to ONNX.

    nice -n 10 .venv/bin/python -m shiftclipper_tracker.digits.train            # defaults = the shipped model
    ... --samples 4000 --epochs 1 --out /tmp/try.onnx                           # a quick smoke run

Reproducible: the data come from `render.py` with per-chunk seeds spawned from `--seed` (the same
images whatever the worker count), torch is seeded, and training runs single-process on `--threads`.
The labelled NHL crops are never read here: they are the held-out evaluation (bench/ocr_accuracy.py).
Needs torch and the `onnx` package (training only; the tracker runs the ONNX file with onnxruntime).
"""

from __future__ import annotations

import argparse
import math
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

from .labels import INPUT_H, INPUT_W, label_index, normalise, to_input
from .model import DigitNet, head_targets, loss_fn
from .render import render_sample

DEFAULT_OUT = Path(__file__).with_name("jersey_digits.onnx")
CHUNK = 500


def _render_chunk(args: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
    """`n` samples from chunk `index` of the stream seeded by `seed` (workers are interchangeable)."""
    seed, index, n = args
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    xs = np.empty((n, INPUT_H, INPUT_W), np.uint8)
    labels = []
    for i in range(n):
        crop, label = render_sample(rng)
        xs[i] = to_input(crop)
        labels.append(label)
    return xs, labels


def render_set(n: int, seed: int, workers: int, cache: Path | None = None) -> tuple[np.ndarray, list[str]]:
    """n model inputs (uint8 windows) and their labels; `cache`: a folder to keep them in between runs."""
    path = cache / f"render_{seed}_{n}.npz" if cache else None
    if path and path.is_file():
        with np.load(path) as z:
            return z["x"], [str(s) for s in z["y"]]
    jobs = [(seed, k, min(CHUNK, n - k * CHUNK)) for k in range(math.ceil(n / CHUNK))]
    if workers > 1:
        with Pool(workers) as pool:
            parts = pool.map(_render_chunk, jobs)
    else:
        parts = [_render_chunk(j) for j in jobs]
    xs, labels = np.concatenate([p[0] for p in parts]), [s for p in parts for s in p[1]]
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=xs, y=np.array(labels))
    return xs, labels


def evaluate(model: DigitNet, xs: np.ndarray, labels: list[str]) -> float:
    """Exact-match accuracy (argmax over the 111 outputs) on a rendered set."""
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(normalise(xs[i : i + 512]))) for i in range(0, len(xs), 512)])
    target = torch.tensor([label_index(s) for s in labels])
    return float((pred.argmax(1) == target).float().mean())


def train(args: argparse.Namespace) -> DigitNet:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    xs, labels = render_set(args.samples, args.seed, args.workers, args.cache)
    vx, vlabels = render_set(args.val, args.seed + 1, args.workers, args.cache)
    print(f"rendered {len(xs)} + {len(vx)} samples in {time.perf_counter() - t0:.0f} s", flush=True)
    x_all = torch.from_numpy(normalise(xs))
    y_all = head_targets(labels)
    model = DigitNet()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(xs) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xs), generator=gen)
        total = 0.0
        for start in range(0, len(xs), args.batch):
            idx = order[start : start + args.batch]
            loss = loss_fn(model, _jitter(x_all[idx], gen), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            if (start // args.batch) % 100 == 99:
                print(f"  step {start // args.batch + 1}: loss {loss.item():.3f}", flush=True)
        acc = evaluate(model, vx, vlabels)
        print(
            f"epoch {epoch + 1}: loss {total / len(xs):.3f}, synthetic val exact {acc:.3f}, "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return model


def _jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Cheap per-batch augmentation on top of the renders: a few pixels of shift (window placement)."""
    dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=gen))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def export(model: DigitNet, out: Path) -> None:
    """ONNX with a dynamic batch: input "x" N x 1 x 64 x 64 float32, output "logp" N x 111."""
    model.eval()
    dummy = torch.zeros(1, 1, INPUT_H, INPUT_W)
    torch.onnx.export(
        model,
        (dummy,),
        str(out),
        input_names=["x"],
        output_names=["logp"],
        dynamic_axes={"x": {0: "n"}, "logp": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=24_000)
    ap.add_argument("--val", type=int, default=2_000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="render processes (the data do not depend on it)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--cache", type=Path, default=None, help="keep rendered sets here (re-runs skip rendering)")
    args = ap.parse_args()
    export(train(args), args.out)


if __name__ == "__main__":
    main()
