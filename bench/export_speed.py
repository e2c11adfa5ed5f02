"""Exporter speed and cut accuracy on a synthetic 1080p30 H.264 game (SPEC §5: copy <= 10 s, smart <= 60 s
for the clips of a 60-min game on 2 cores).

The game is a frame-numbered 1080p30 segment (bar code of the frame index over lavfi testsrc2, AAC audio,
keyframe every 60 frames) encoded once and stream-copied end to end to the wanted length, so generating
60 minutes takes well under a minute. Frame numbers repeat every segment, so accuracy is measured modulo
the segment length (errors are far smaller than a segment).

    .venv/bin/python bench/export_speed.py --minutes 60
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
for sub in ("services/exporter", "libs/contracts"):
    sys.path.insert(0, str(ROOT / sub))

from shiftclipper_exporter.media import cut_clip, probe_media, run_ffmpeg  # noqa: E402
from shiftclipper_exporter.media_synth import make_numbered_video, read_frame_index  # noqa: E402

FPS = 30
SEGMENT_S = 20
SEG_FRAMES = SEGMENT_S * FPS


def make_game(out: Path, minutes: float) -> Path:
    game = out / f"game_{minutes:g}min.mp4"
    if game.exists():
        return game
    segment = out / "segment_1080p.mp4"
    if not segment.exists():
        t = time.perf_counter()
        video_args = ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M"]
        make_numbered_video(
            str(segment), frames=SEG_FRAMES, fps=FPS, width=1920, height=1080, gop=60, audio=True,
            video_args=video_args, background="testsrc2",
        )  # fmt: skip
        print(f"segment: {SEGMENT_S} s of 1080p30 encoded in {time.perf_counter() - t:.1f} s")
    repeats = max(1, round(minutes * 60 / SEGMENT_S))
    listing = out / "game.txt"
    # outpoint: every segment lasts exactly SEGMENT_S (its AAC audio is a few ms longer).
    listing.write_text("ffconcat version 1.0\n" + f"file '{segment.name}'\noutpoint {SEGMENT_S}\n" * repeats)
    t = time.perf_counter()
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(game)])
    print(f"game: {repeats} segments stream-copied in {time.perf_counter() - t:.1f} s")
    return game


def shifts(duration: float, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """`count` shifts of 35-60 s (pre/post roll included) spread over the game, at odd start times."""
    rng = random.Random(seed)
    slot = duration / count
    out = []
    for i in range(count):
        length = rng.uniform(35, 60)
        start = i * slot + rng.uniform(0, max(0.0, slot - length - 1)) + rng.random() / FPS
        out.append((round(start, 4), round(min(duration, start + length), 4)))
    return out


@dataclass
class Accuracy:
    first_err: int
    last_err: int


def _mod_err(got: int, want: int) -> int:
    d = (got - want) % SEG_FRAMES
    return d - SEG_FRAMES if d > SEG_FRAMES // 2 else d


def expected_codes(game: str, start: float, end: float) -> tuple[int, int]:
    """Codes of the source frames a clip [start, end) must begin and end with (decoded from the game:
    the concat gives segments after the first a constant offset of one AAC priming delay, 21 ms)."""
    eps = 0.25 / FPS
    with av.open(game) as c:
        v = c.streams.video[0]
        tb = v.time_base or 1

        def around(t: float) -> tuple[int, int]:
            """(code of the last frame before t, code of the first frame at or after t)."""
            c.seek(max(0, int((t - 1) / tb)), stream=v)
            prev = -1
            for f in c.decode(v):
                if float(f.time or 0) >= t - eps:
                    return prev, read_frame_index(f)
                prev = read_frame_index(f)
            return prev, -1

        return around(start)[1], around(end)[0]


def accuracy(path: str, want: tuple[int, int]) -> Accuracy:
    """Frame errors of the clip's first and last frames against the wanted source frames."""
    with av.open(path) as c:
        v = c.streams.video[0]
        first = read_frame_index(next(c.decode(v)))
        c.seek(max(0, int((c.duration or 0) / 1e6 - 3) * 1_000_000))
        last_frame = None
        for last_frame in c.decode(v):  # noqa: B007
            pass
        last = read_frame_index(last_frame) if last_frame is not None else -1
    return Accuracy(_mod_err(first, want[0]), _mod_err(last, want[1]))


def run_mode(
    game: Path, out: Path, mode: str, cuts: list[tuple[float, float]], wants: list[tuple[int, int]]
) -> tuple[float, list[Accuracy]]:
    info = probe_media(str(game))
    total, acc = 0.0, []
    for i, (s, e) in enumerate(cuts):
        dst = out / f"{mode}_{i:02d}.mp4"
        t = time.perf_counter()
        res = cut_clip(str(game), str(dst), s, e, mode, info=info)
        total += time.perf_counter() - t
        if res.mode != mode:
            print(f"  {mode} clip {i} fell back to {res.mode}: {res.fallback_reason}")
        acc.append(accuracy(str(dst), wants[i]))
    return total, acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--shifts", type=int, default=20)
    ap.add_argument("--reencode-clips", type=int, default=None, help="time reencode on only the first N clips")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    game = make_game(args.out, args.minutes)
    info = probe_media(str(game))
    print(f"source: {info.video.width}x{info.video.height} {info.video.fps:g} fps {info.video.codec}, "
          f"{info.video.duration_s / 60:.1f} min, {info.video.size / 1e9:.2f} GB, cores={os.cpu_count()}")  # fmt: skip
    cuts = shifts(info.video.duration_s, args.shifts)
    clip_s = sum(e - s for s, e in cuts)
    print(f"{len(cuts)} shifts, {clip_s:.0f} s of clips")
    wants = [expected_codes(str(game), s, e) for s, e in cuts]
    results: dict[str, tuple[float, list[Accuracy], int]] = {}
    for mode in ("copy", "smart", "reencode"):
        subset = cuts[: args.reencode_clips] if mode == "reencode" and args.reencode_clips else cuts
        seconds, acc = run_mode(game, args.out / "clips", mode, subset, wants)
        results[mode] = (seconds, acc, len(subset))
    video_s = info.video.duration_s
    print(f"\n{'mode':9} {'clips':>5} {'total s':>8} {'per clip':>8} {'RTF(game)':>9} {'x copy':>7}  "
          "first-frame err (frames)  last-frame err")  # fmt: skip
    copy_s = results["copy"][0]
    for mode, (seconds, acc, n) in results.items():
        scaled = seconds * len(cuts) / n
        firsts, lasts = [a.first_err for a in acc], [a.last_err for a in acc]
        note = "" if n == len(cuts) else f" (timed {n}, scaled to {len(cuts)})"
        print(
            f"{mode:9} {len(cuts):5d} {scaled:8.2f} {scaled / len(cuts):8.2f} {scaled / video_s:9.4f} "
            f"{scaled / copy_s:7.1f}  min {min(firsts):+d} max {max(firsts):+d} median "
            f"{statistics.median(firsts):+.0f}   max |{max(abs(x) for x in lasts)}|{note}"
        )
    print("\ntargets (SPEC §5, 60-min game, 2 cores): copy <= 10 s, smart <= 60 s; "
          "copy starts at a keyframe (first-frame error <= 0, at most one GOP)")  # fmt: skip


if __name__ == "__main__":
    main()
