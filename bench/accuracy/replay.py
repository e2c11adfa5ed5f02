"""Record a game's observations once, then replay only the pure core: seconds per run instead of minutes.

Recording runs the detector, torso colour and OCR like the pipeline, but reads EVERY track whose torso is
roughly the jersey colour on every processed frame (with all recogniser views). Replay then feeds the core
frame by frame and attaches a recorded read only where the core asks for one (`needs_read`, the pipeline's
`pick_reads` budget), so the core sees what the live pipeline would have shown it — for any core logic.

    .venv/bin/python -m bench.accuracy.replay record --seconds 60 --seed 1 --out bench/out/obs_60s_s1
    .venv/bin/python -m bench.accuracy.replay replay bench/out/obs_60s_s1 [--setup '{...}'] [--verbose]
    .venv/bin/python -m bench.accuracy.replay identities bench/out/obs_60s_s1 [--locks]   # who each track was

A cheaper, approximate recording comes from a pipeline run: `bench.accuracy.run ... --record DIR` (`Recording.live`).

A recording is `<dir>/obs.json` (frames, tracks, reads) + `<dir>/truth.json`; the video is not kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from shiftclipper_contracts.config import load_config
from shiftclipper_contracts.events import Segment
from shiftclipper_contracts.job_setup import JobSetup, setup_from_obj
from shiftclipper_tracker.core.color import color_match, hex_to_lab
from shiftclipper_tracker.core.engine import TrackingCore
from shiftclipper_tracker.core.observations import FrameObs, TrackObs
from shiftclipper_tracker.core.timeline import TimelineEntry
from shiftclipper_tracker.decode import iter_frames, video_info
from shiftclipper_tracker.pipeline import (
    DECODE_MAX_HEIGHT,
    Models,
    ReadCandidate,
    SpeedOptions,
    frames_to_skip,
    pick_reads,
)
from shiftclipper_tracker.torso import player_crop, torso_lab

from .generate import CROPS_DIR, DEFAULT_TARGET_FILES, GroundTruth, generate, layout_of
from .identities import check_locks, label, lock_lines, summary
from .recording import Recording
from .run import MODEL, SPEED_HELP, bench_setup, speed_options
from .score import Score, score

RECORD_COLOR_DISTANCE = 60.0
"""Tracks further than this (CIELAB) from the jersey colour are not read while recording: no preset's
colour gate is that wide, so the core would never ask for them."""
DEFAULT_SPEED = SpeedOptions()


def record(
    video: Path, color: str, models: Models, preset: str = "broadcast", tuning: dict[str, float] | None = None
) -> Recording:
    """Observations of every processed frame; every track roughly of `color` is read on every frame.
    `tuning`: overrides of the preset (e.g. `detect_fps`; replay with the same overrides)."""
    setup = setup_from_obj({"jersey_number": "0", "jersey_color": color, "camera_mode": preset, "tuning": tuning or {}})
    tuned = setup.effective_tuning()
    info = video_info(str(video))
    every_s = 1.0 / min(info.fps, tuned.detect_fps)
    models.detector.reset(sample_fps=1.0 / every_s)
    team = hex_to_lab(setup.jersey_color)
    frames = []
    for frame in iter_frames(str(video), every_s, DECODE_MAX_HEIGHT):
        people = models.detector.update(frame.image, imgsz=tuned.detect_imgsz, conf=tuned.det_conf)
        tracks = [TrackObs(track_id=i, box=b, det_conf=s, torso_lab=torso_lab(frame.image, b)) for i, b, s in people]
        wanted = [o for o in tracks if o.torso_lab and color_match(o.torso_lab, team, None, RECORD_COLOR_DISTANCE)]
        crops = [(o, player_crop(frame.image, o.box)) for o in wanted]
        legible = [(o, c) for o, c in crops if c is not None]
        for (obs, _), read in zip(legible, models.reader.read_batch([c for _, c in legible]), strict=True):
            obs.read = read
        frames.append(FrameObs(frame_index=frame.frame_index, t=frame.t, tracks=tracks))
    return Recording(
        fps=info.fps, duration_s=info.duration_s, detect_fps=tuned.detect_fps, frames=frames, preset=preset
    )


@dataclasses.dataclass
class Replayed:
    segments: list[Segment]
    timeline: list[TimelineEntry]
    ocr_runs: int
    """OCR runs the core asked for (the live pipeline's OCR cost; an upper bound: a crop too small to read costs
    nothing there)."""
    frames_fed: int
    """Frames shown to the core (the others skipped by `SpeedOptions.settled_stride`, as the pipeline would)."""


def replay(rec: Recording, setup: JobSetup, speed: SpeedOptions = DEFAULT_SPEED) -> Replayed:
    """What the core gives on this recording, with reads only where it asks for them."""
    tuning = setup.effective_tuning()
    if abs(tuning.detect_fps - rec.detect_fps) > 1e-6:
        raise SystemExit(f"recorded at detect_fps {rec.detect_fps}, setup wants {tuning.detect_fps}")
    core = TrackingCore(setup, tuning, rec.fps)
    out = Replayed([], [], 0, 0)
    skip = 0
    for frame in rec.frames:
        if skip > 0:  # left undetected, as the pipeline does while nothing is searched
            skip -= 1
            continue
        shown, asked = _shown(core, frame, speed)
        out.ocr_runs += asked
        out.frames_fed += 1
        out.segments += core.update(shown)
        skip = 0 if rec.live else frames_to_skip(core, speed)
    out.segments += core.finish(rec.duration_s)
    out.timeline = core.timeline
    return out


def _shown(core: TrackingCore, frame: FrameObs, speed: SpeedOptions) -> tuple[FrameObs, int]:
    """The frame as the pipeline would show it (reads kept only for the tracks the core picks), and how many
    tracks it picked."""
    voter = core.voter
    by_id = {o.track_id: o for o in frame.tracks}
    candidates = []
    for obs in frame.tracks:
        known = voter.state.tracks.get(obs.track_id)
        lab = known.lab if known is not None and known.lab is not None else obs.torso_lab
        decided = known is not None and voter.settled(known)
        candidates.append(ReadCandidate(obs.track_id, decided, voter.color_score(lab), obs.box[3] - obs.box[1]))
    chosen = pick_reads(
        candidates,
        speed.ocr_crops_per_frame,
        lambda c: core.needs_read(c.track_id, frame.t, by_id[c.track_id].torso_lab, by_id[c.track_id].box),
    )
    keep = {c.track_id for c in chosen}
    tracks = [msgspec.structs.replace(o, read=o.read if o.track_id in keep else None) for o in frame.tracks]
    return FrameObs(frame_index=frame.frame_index, t=frame.t, tracks=tracks), len(keep)


def load(folder: Path) -> tuple[Recording, GroundTruth]:
    rec = msgspec.json.decode((folder / "obs.json").read_bytes(), type=Recording)
    raw = json.loads((folder / "truth.json").read_text())
    raw["shifts"] = [tuple(x) for x in raw["shifts"]]
    raw["size"] = tuple(raw["size"])
    return rec, GroundTruth(**raw)


def evaluate(
    folder: Path, extra: dict[str, Any] | None = None, speed: SpeedOptions = DEFAULT_SPEED
) -> tuple[Score, list[tuple[float, float]], Replayed, GroundTruth, int]:
    """Score, predicted shifts, the replay, the truth and the number of recorded frames."""
    rec, truth = load(folder)
    setup = bench_setup(truth, rec.preset, extra)
    run = replay(rec, setup, speed)
    pairs = [(round(s.start_s, 2), round(s.end_s, 2)) for s in run.segments]
    return score(pairs, truth.shifts), pairs, run, truth, len(rec.frames)


def _record_cmd(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "game.mp4"
        files = None if a.all_target_crops else DEFAULT_TARGET_FILES
        truth = generate(video, seconds=a.seconds, seed=a.seed, similar_numbers=True, target_files=files)
        models = Models(load_config({}, model_path=str(MODEL)))
        rec = record(video, truth.color, models, tuning=json.loads(a.tuning))
    (out / "obs.json").write_bytes(msgspec.json.encode(rec))
    truth.save(out / "truth.json")
    print(f"recorded {len(rec.frames)} frames to {out}")


def _replay_cmd(a: argparse.Namespace) -> None:
    for folder in a.folders:
        s, pairs, run, truth, n_frames = evaluate(Path(folder), json.loads(a.setup), speed_options(a.speed))
        boundary = "n/a" if s.boundary_s is None else f"{s.boundary_s:.2f} s"
        print(
            f"{folder}: recall {s.recall:.3f} precision {s.precision:.3f} boundary {boundary} toi {s.toi_error:.3f}"
            f" | {run.frames_fed}/{n_frames} frames fed, {run.ocr_runs} OCR runs"
            f" ({run.ocr_runs / truth.duration_s:.2f}/s)"
        )
        print(f"  true      {[(round(x, 2), round(y, 2)) for x, y in truth.shifts]}")
        print(f"  predicted {pairs}")
        if a.verbose:
            for e in run.timeline:
                print("   ", msgspec.to_builtins(e))


def _identities_cmd(a: argparse.Namespace) -> None:
    for folder in map(Path, a.folders):
        rec, truth = load(folder)
        layout = layout_of(truth)
        ids = label(rec.frames, layout)
        print(folder)
        print("\n".join(summary(ids, layout)))
        if a.locks:
            run = replay(rec, bench_setup(truth, rec.preset, json.loads(a.setup)))
            print("\n".join(lock_lines(check_locks(run.timeline, ids, layout), layout)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--seconds", type=float, default=60.0)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", required=True)
    r.add_argument("--tuning", default="{}", help="preset overrides, e.g. '{\"detect_fps\": 5}'")
    r.add_argument(
        "--all-target-crops",
        action="store_true",
        help="draw the target with every legible crop of its number in turn (weaker reads), not the clean one",
    )
    q = sub.add_parser("replay")
    q.add_argument("folders", nargs="+")
    q.add_argument("--setup", default="{}")
    q.add_argument("--verbose", action="store_true")
    q.add_argument("--speed", default="{}", help=SPEED_HELP + " (skipped frames are simply not fed to the core)")
    i = sub.add_parser("identities", help="which drawn skater each recorded track followed (bench.accuracy.identities)")
    i.add_argument("folders", nargs="+")
    i.add_argument("--setup", default="{}", help="extra JSON setup fields for the replay behind --locks")
    i.add_argument("--locks", action="store_true", help="list the core's locks and who each was on")
    a = p.parse_args(argv)
    if not MODEL.exists() or not (CROPS_DIR / "labels.csv").exists():
        print(f"skipped: {MODEL} or {CROPS_DIR} absent")
        return 0
    {"record": _record_cmd, "replay": _replay_cmd, "identities": _identities_cmd}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
