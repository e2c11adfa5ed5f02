"""Real broadcast check (SPEC §5): the EDM defence pairs the score bug names, against what the tracker finds.

    .venv/bin/python bench/broadcast_defence.py [--color '#1c3664'] [--preset broadcast]

For each of the six defencemen in `../shared/media/nhl_broadcast_BUF-EDM_2016-10-16_12s.edm_defence_graphic.csv`
it runs the real pipeline (one model load) and prints the shifts found next to the interval the graphic gives,
with the seconds of overlap, plus the identity events from the core's timeline. Numbers on this clip are 10-20
px tall, so this is a hard, honest check, not a target. Exits 0 when ../shared is absent.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

from shiftclipper_contracts.config import load_config
from shiftclipper_contracts.events import TrackWork
from shiftclipper_contracts.job_setup import setup_from_obj
from shiftclipper_tracker.decode import video_info
from shiftclipper_tracker.pipeline import Hooks, Models, track_video

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VIDEO = SHARED / "media" / "nhl_broadcast_BUF-EDM_2016-10-16_12s.mp4"
GRAPHIC = SHARED / "media" / "nhl_broadcast_BUF-EDM_2016-10-16_12s.edm_defence_graphic.csv"
MODEL = SHARED / "models" / "yolov8n_int8.tflite"
EDM_BLUE = "#1c3664"
"""Edmonton's 2016 home blue as it looks on this broadcast (torso median, rink lighting)."""


def defence_intervals(path: Path = GRAPHIC) -> dict[str, tuple[float, float]]:
    """Jersey number -> (start_s, end_s) the score bug shows the player on the ice."""
    out: dict[str, tuple[float, float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["segment"] == "transition":
                continue
            for player in row["on_ice_per_broadcast_graphic"].split("|"):
                number = player.split()[0]
                out[number] = (float(row["start_s"]), float(row["end_s"]))
    return out


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--color", default=EDM_BLUE)
    p.add_argument("--preset", default="broadcast", choices=["broadcast", "broadcast_wide", "tactical"])
    a = p.parse_args(argv)
    if not (VIDEO.exists() and GRAPHIC.exists() and MODEL.exists()):
        print("skipped: ../shared media or model absent")
        return 0
    models = Models(load_config({}, model_path=str(MODEL)))
    info = video_info(str(VIDEO))
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    found_any = 0
    for number, truth in defence_intervals().items():
        setup = setup_from_obj({"jersey_number": number, "jersey_color": a.color, "camera_mode": a.preset})
        work = TrackWork(job_id="bench", attempt=1, video_key="bench", video=info, setup=setup)
        t0 = time.perf_counter()
        out = track_video(models, str(VIDEO), work, hooks)
        wall = time.perf_counter() - t0
        shifts = [(round(s.start_s, 2), round(s.end_s, 2)) for s in out.segments]
        inside = sum(overlap(s, truth) for s in shifts)
        found_any += bool(inside)
        events = Counter(e["kind"] for e in out.timeline)
        print(
            f"#{number:>2}: graphic {truth[0]:5.2f}-{truth[1]:5.2f} s | found {shifts or 'nothing'} | "
            f"overlap {inside:4.1f} s | RTF {wall / info.duration_s:.2f} | ocr reads {out.stats.ocr_reads} | "
            f"events {dict(events)}"
        )
    print(f"defencemen found at least partly inside their graphic interval: {found_any} of 6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
