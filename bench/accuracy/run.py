"""Shift-accuracy benchmark: generate a semi-synthetic game, track it, score the shifts (SPEC §5).

    .venv/bin/python -m bench.accuracy.run --seconds 60 --seed 1 [--preset broadcast --preset tactical]
                                             [--runtime openvino --runtime litert] [--size 1920x1080]
    .venv/bin/python -m bench.accuracy.run --minutes 5 --seed 2 --keep bench/out/acc_5min.mp4
    .venv/bin/python -m bench.accuracy.run --minutes 5 --seed 21 --skater-scale 0.5 --preset broadcast_wide  # wide view

Prints per preset: recall, precision, median boundary error, TOI error (targets: >= 0.95, >= 0.95,
<= 0.5 s, <= 5 %), RTF = tracking wall time / video time, predicted vs true segments, and a short
diagnosis (detections per frame, OCR reads of the target number in and out of its shifts, lock events, and
which skaters the tracks followed: `identities`).
Exits 0 when ../shared is absent; with --check, exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from shiftclipper_contracts.config import load_config
from shiftclipper_contracts.events import TrackWork
from shiftclipper_contracts.job_setup import JobSetup, setup_from_obj
from shiftclipper_tracker import pipeline
from shiftclipper_tracker.core.engine import TrackingCore
from shiftclipper_tracker.core.observations import FrameObs
from shiftclipper_tracker.core.timeline import TimelineEntry
from shiftclipper_tracker.decode import video_info
from shiftclipper_tracker.pipeline import Hooks, Models, SpeedOptions, track_video
from shiftclipper_tracker.tflite_yolo import RUNTIMES

from .generate import CROPS_DIR, DEFAULT_TARGET_FILES, SHARED, GroundTruth, generate, layout_of
from .identities import check_locks, label
from .recording import Recording
from .score import Score, score

MODEL = SHARED / "models" / "yolov8n_int8.tflite"


@dataclass
class Probe:
    """Counts what the detector and the reader see, by wrapping the loaded models (no tracker changes)."""

    t: float = 0.0
    detections: list[int] = field(default_factory=list)
    reads: list[tuple[float, str, float]] = field(default_factory=list)
    frames: list[FrameObs] | None = None
    """When a list: every frame the core is fed is appended (`--record`)."""

    def attach(self, models: Models) -> None:
        track, read_batch = models.detector.track, models.reader.read_batch
        probe = self

        class Core(TrackingCore):
            def needs_read(self, track_id: int, t: float, *args: Any, **kwargs: Any) -> bool:
                probe.t = t
                return super().needs_read(track_id, t, *args, **kwargs)

            def update(self, frame: FrameObs) -> Any:
                if probe.frames is not None:
                    probe.frames.append(frame)
                return super().update(frame)

        pipeline.TrackingCore = Core  # restored by detach()

        def det(*args: Any, **kwargs: Any) -> Any:
            people = track(*args, **kwargs)
            self.detections.append(len(people))
            return people

        def ocr(crops: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
            out = read_batch(crops, *args, **kwargs)
            self.reads.extend((self.t, r.number, r.confidence) for r in out if r is not None)
            return out

        models.detector.track = det
        models.reader.read_batch = ocr

    @staticmethod
    def detach(models: Models) -> None:
        pipeline.TrackingCore = TrackingCore
        del models.detector.track, models.reader.read_batch  # back to the class methods


@dataclass
class PresetResult:
    preset: str
    score: Score
    wall_s: float
    rtf: float
    segments: list[tuple[float, float]]
    diagnosis: dict[str, Any]


def _inside(t: float, shifts: Sequence[tuple[float, float]]) -> bool:
    return any(s <= t < e for s, e in shifts)


SPEED_HELP = "pipeline SpeedOptions overrides as JSON, e.g. '{\"settled_stride\": 1}'"


def speed_options(overrides: str, base: SpeedOptions | None = None) -> SpeedOptions:
    """`base` (default: the pipeline's SpeedOptions) with the JSON `overrides` applied."""
    return replace(base or SpeedOptions(), **json.loads(overrides))


def bench_setup(truth: GroundTruth, preset: str = "broadcast", extra: dict[str, Any] | None = None) -> JobSetup:
    """The job setup a benchmark game is tracked with: its target, a camera preset, and `extra` fields on top."""
    return setup_from_obj(
        {"jersey_number": truth.number, "jersey_color": truth.color, "camera_mode": preset, **(extra or {})}
    )


def track(
    models: Models,
    truth: GroundTruth,
    preset: str,
    extra: dict[str, Any] | None = None,
    speed: SpeedOptions | None = None,
    record: list[FrameObs] | None = None,
) -> PresetResult:
    """`record`: a list the frames fed to the core are appended to (`--record`)."""
    setup = bench_setup(truth, preset, extra)
    info = video_info(truth.video)
    work = TrackWork(job_id="bench", attempt=1, video_key="bench", video=info, setup=setup)
    frames: list[FrameObs] = record if record is not None else []
    probe = Probe(frames=frames)
    probe.attach(models)
    hooks = Hooks(lambda s: None, lambda f, s: None, lambda c: None, lambda: False)
    t0 = time.perf_counter()
    try:
        outcome = track_video(models, truth.video, work, hooks, speed=speed)
    finally:
        probe.detach(models)
    wall = time.perf_counter() - t0
    segments = [(round(s.start_s, 2), round(s.end_s, 2)) for s in outcome.segments]
    target_reads = [(t, c) for t, n, c in probe.reads if n == truth.number]
    min_conf = setup.effective_tuning().ocr_min_conf
    diagnosis = {
        "detections_per_frame": round(sum(probe.detections) / max(1, len(probe.detections)), 2),
        "ocr_reads": len(probe.reads),
        "target_reads_on_ice": sum(1 for t, _ in target_reads if _inside(t, truth.shifts)),
        "target_reads_off_ice": sum(1 for t, _ in target_reads if not _inside(t, truth.shifts)),
        "target_reads_on_ice_conf_ok": sum(1 for t, c in target_reads if _inside(t, truth.shifts) and c >= min_conf),
        "target_reads_off_ice_conf_ok": sum(
            1 for t, c in target_reads if not _inside(t, truth.shifts) and c >= min_conf
        ),
        "top_reads": Counter(n for _, n, c in probe.reads if c >= min_conf).most_common(6),
        "events": dict(Counter(e["kind"] for e in outcome.timeline)),
        "stats": msgspec.to_builtins(outcome.stats),
        **identity_figures(truth, frames, outcome.timeline),
        "timeline": outcome.timeline,
    }
    return PresetResult(preset, score(segments, truth.shifts), wall, wall / truth.duration_s, segments, diagnosis)


def identity_figures(truth: GroundTruth, frames: list[FrameObs], timeline: list[Any]) -> dict[str, Any]:
    """Which skaters the tracks followed (`identities`): the target's coverage, track purity and the core's locks
    on someone else; nothing when the truth's plan cannot be rebuilt (a video made with other generator options)."""
    try:
        layout = layout_of(truth)
    except ValueError:
        return {}
    ids = label(frames, layout)
    checks = check_locks(msgspec.convert(timeline, list[TimelineEntry]), ids, layout)
    return {
        "tracks": len(ids.life),
        "track_purity": round(ids.purity(), 3),
        "target_on_track": round(ids.coverage(), 3),
        "locks_on_others": f"{sum(not c.on_target for c in checks)}/{len(checks)}",
    }


def report(truth: GroundTruth, result: PresetResult, verbose: bool = False) -> str:
    s = result.score
    ok = s.passes()
    flag = {k: "ok" if v else "MISS" for k, v in ok.items()}
    lines = [
        f"[{result.preset}] video {truth.duration_s:.0f} s, target #{truth.number} {truth.color} ({truth.team}), "
        f"{truth.skaters_in_view} skaters in view a frame",
        f"  recall     {s.recall:.3f} ({s.matched}/{s.n_true}) {flag['recall']}",
        f"  precision  {s.precision:.3f} ({s.matched}/{s.n_pred}) {flag['precision']}",
        "  boundary   "
        + ("n/a" if s.boundary_s is None else f"{s.boundary_s:.2f} s (median)")
        + f" {flag['boundary_s']}",
        f"  TOI error  {100 * s.toi_error:.1f} % {flag['toi_error']}",
        f"  RTF        {result.rtf:.3f} (tracking {result.wall_s:.1f} s wall, load {os.getloadavg()[0]:.1f})",
        f"  true       {[(round(a, 2), round(b, 2)) for a, b in truth.shifts]}",
        f"  predicted  {result.segments}",
    ]
    d = result.diagnosis
    lines.append("  diagnosis  " + json.dumps({k: v for k, v in d.items() if k != "timeline"}, default=str))
    if verbose:
        lines.extend(f"    {e}" for e in d["timeline"])
    return "\n".join(lines)


def save_recording(
    folder: Path, truth: GroundTruth, setup: dict[str, Any], presets: list[str], frames: list[FrameObs]
) -> None:
    """The frames a run fed its core, as a live `Recording` (`bench.accuracy.replay`), and the truth."""
    detect_fps = bench_setup(truth, presets[0], setup).effective_tuning().detect_fps
    rec = Recording(
        fps=truth.fps, duration_s=truth.duration_s, detect_fps=detect_fps, frames=frames, live=True, preset=presets[0]
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "obs.json").write_bytes(msgspec.json.encode(rec))
    truth.save(folder / "truth.json")
    print(f"recorded {len(frames)} frames to {folder}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float)
    length.add_argument("--minutes", type=float)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", default="1280x720", help="frame size of the generated game, WIDTHxHEIGHT")
    p.add_argument("--preset", action="append", choices=["broadcast", "broadcast_wide", "tactical"])
    p.add_argument("--setup", default="{}", help="extra JSON setup fields (e.g. tuning overrides)")
    p.add_argument("--speed", default="{}", help=SPEED_HELP)
    p.add_argument(
        "--runtime",
        action="append",
        choices=RUNTIMES,
        help="detector runtime (repeat to compare on the same video in one run; default: the tracker's default)",
    )
    p.add_argument("--no-similar", action="store_true", help="no teammate whose number contains the target's")
    p.add_argument(
        "--all-target-crops",
        action="store_true",
        help="draw the target with every legible crop of its number in turn (weaker reads), not the clean one",
    )
    p.add_argument(
        "--skater-scale",
        type=float,
        default=1.0,
        help="skater heights times this (0.5: a wide view with small players; use with --preset broadcast_wide)",
    )
    p.add_argument("--keep", help="write the video here (default: a temporary file, deleted)")
    p.add_argument("--reuse", action="store_true", help="reuse --keep and its .truth.json if present")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--verbose", action="store_true", help="print the tracker timeline")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument(
        "--record",
        metavar="DIR",
        help="save the frames fed to the core for `bench.accuracy.replay replay DIR` (one runtime and preset only)",
    )
    a = p.parse_args(argv)
    if a.record and (len(a.runtime or [""]) > 1 or len(a.preset or [""]) > 1):
        p.error("--record takes one runtime and one preset")
    if not (CROPS_DIR / "labels.csv").exists() or not MODEL.exists():
        print(f"skipped: {CROPS_DIR} or {MODEL} absent")
        return 0
    seconds = a.seconds if a.seconds is not None else (a.minutes or 1.0) * 60
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(a.keep) if a.keep else Path(tmp) / "game.mp4"
        truth_file = video.with_name(video.name + ".truth.json")
        t0 = time.perf_counter()
        if a.reuse and video.exists() and truth_file.exists():
            raw = json.loads(truth_file.read_text())
            raw["shifts"] = [tuple(x) for x in raw["shifts"]]
            raw["size"] = tuple(raw["size"])
            truth = GroundTruth(**raw)
        else:
            width, height = (int(v) for v in a.size.lower().split("x"))
            truth = generate(
                video,
                seconds=seconds,
                seed=a.seed,
                size=(width, height),
                similar_numbers=not a.no_similar,
                target_files=None if a.all_target_crops else DEFAULT_TARGET_FILES,
                skater_scale=a.skater_scale,
            )
        print(f"generated {truth.duration_s:.0f} s in {time.perf_counter() - t0:.1f} s: {video}")
        results = []
        frames: list[FrameObs] | None = [] if a.record else None
        for runtime in a.runtime or [""]:
            models = Models(load_config({}, model_path=str(MODEL), detect_runtime=runtime))
            speed = speed_options(a.speed, models.speed)
            for preset in a.preset or ["broadcast"]:
                results.append(track(models, truth, preset, json.loads(a.setup), speed, frames))
                print(f"detector runtime: {models.detector.runtime}")
                print(report(truth, results[-1], a.verbose))
    if frames is not None:
        save_recording(Path(a.record), truth, json.loads(a.setup), a.preset or ["broadcast"], frames)
    if a.json:
        out = {"truth": asdict(truth), "results": [asdict(r) for r in results]}
        Path(a.json).write_text(json.dumps(out, indent=1, default=str))
    missed = any(not all(r.score.passes().values()) for r in results)
    return 1 if a.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
