"""Synthetic observation streams for the tracking core tests: players with scripted visibility,
positions and jersey-number reads, driven through a TrackingCore the way the adapter would."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from shiftclipper_contracts.events import Segment
from shiftclipper_contracts.job_setup import PRESETS, CameraMode, JobSetup, Tuning
from shiftclipper_tracker.core.color import rgb_to_lab
from shiftclipper_tracker.core.engine import TrackingCore
from shiftclipper_tracker.core.observations import FrameObs, NumberRead, TrackObs

RED = (150, 30, 40)  # '#c8102e' as measured on camera under rink lighting
DARK_RED = (120, 25, 35)
WHITE = (190, 195, 205)  # a white jersey, slightly shaded
FPS = 10.0


@dataclass
class Player:
    number: str
    rgb: tuple[int, int, int]
    windows: list[tuple[float, float, int]]
    """(first, last visible time, track id): each appearance is its own tracklet."""
    x: Callable[[float], float] = lambda t: 0.5
    y: Callable[[float], float] = lambda t: 0.6
    read_conf: float = 0.85
    legible: float = 1.0
    """Probability that an OCR attempt yields the right number."""
    noise: list[tuple[str, float, float]] = field(default_factory=list)
    """(number, confidence, probability) of wrong reads."""
    script: list[str | tuple[str, float]] = field(default_factory=list)
    """Reads for the first OCR attempts, in order (before the random model takes over): a number (read at
    `read_conf`) or a (number, confidence) pair."""

    def track_at(self, t: float) -> int | None:
        for first, last, track_id in self.windows:
            if first - 1e-9 <= t <= last + 1e-9:
                return track_id
        return None

    def read(self, rng: random.Random) -> NumberRead | None:
        if self.script:
            entry = self.script.pop(0)
            number, conf = entry if isinstance(entry, tuple) else (entry, self.read_conf)
            return NumberRead(number=number, confidence=conf)
        r = rng.random()
        for number, conf, p in self.noise:
            if r < p:
                return NumberRead(number=number, confidence=conf)
            r -= p
        if rng.random() < self.legible:
            return NumberRead(number=self.number, confidence=self.read_conf)
        return None


def setup(number: str = "19", **kw: object) -> JobSetup:
    base: dict[str, object] = {"jersey_number": number, "jersey_color": "#c8102e", "opponent_color": "#ffffff"}
    return msgspec.convert(base | kw, JobSetup)


def tuning(**overrides: float) -> Tuning:
    return msgspec.structs.replace(PRESETS[CameraMode.broadcast], **overrides)


@functools.cache
def lab_of(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return rgb_to_lab(rgb)


def box_at(x: float, y: float) -> tuple[float, float, float, float]:
    return (x - 0.02, y - 0.12, x + 0.02, y)


def frame_at(k: int, players: list[Player], core: TrackingCore, rng: random.Random, pan: float) -> FrameObs:
    t = round(k / FPS, 6)
    tracks = []
    for p in players:
        track_id = p.track_at(t)
        if track_id is None:
            continue
        lab = lab_of(p.rgb)
        read = p.read(rng) if core.needs_read(track_id, t, lab) else None
        box = box_at(min(0.97, max(0.03, p.x(t) + pan)), p.y(t))
        tracks.append(TrackObs(track_id=track_id, box=box, det_conf=0.8, torso_lab=lab, read=read))
    return FrameObs(frame_index=k, t=t, tracks=tracks)


@dataclass
class Run:
    segments: list[Segment]
    emitted_at: list[float]
    core: TrackingCore


def drive(
    job: JobSetup,
    players: list[Player],
    duration: float,
    tune: Tuning | None = None,
    seed: int = 0,
    pan: Callable[[float], float] = lambda t: 0.0,
    restore_every: int | None = None,
) -> Run:
    """Feed the stream frame by frame; optionally checkpoint + restore (through JSON) every N frames."""
    tune = tune or tuning()
    core = TrackingCore(job, tune, 30.0)
    rng = random.Random(seed)
    segments: list[Segment] = []
    emitted: list[float] = []
    for k in range(round(duration * FPS) + 1):
        if restore_every and k and k % restore_every == 0:
            core = TrackingCore.restore(job, tune, 30.0, json.loads(json.dumps(core.snapshot())))
        frame = frame_at(k, players, core, rng, pan(k / FPS))
        new = core.update(frame)
        segments += new
        emitted += [frame.t] * len(new)
    new = core.finish(duration)
    return Run(segments + new, emitted + [duration] * len(new), core)


def spans(run: Run) -> list[tuple[float, float]]:
    return [(s.start_s, s.end_s) for s in run.segments]
