"""Semi-synthetic hockey video with exact ground-truth shifts (SPEC §5 "Tracking accuracy").

Real player crops (`../shared/media/jersey_crops_nhl_ocr/`, labels.csv) are pasted over a drawn rink seen
from a broadcast camera that pans slowly with the play. The target (one team, one number) is on the ice
only during known intervals; 3-6 other skaters (teammates, including similar numbers, and opponents) are on
the ice all the time with line changes; during each shift other skaters cross in front of the target for
< 1 s; the frame gets a slight blur and sensor noise. Rendering is numpy/cv2, encoding PyAV libx264.

Crop teams come from the torso colour of each crop (red, white, navy in this set). The target is drawn with
one clean, legible crop (`DEFAULT_TARGET_FILES`); `target_files=None` cycles through every legible crop of its
number, one per shift. Skaters keep their crop's original background (a rectangle with a feathered edge),
scaled to 160-260 px tall by depth; the crops are never mirrored (that would mirror the digits). Other
skaters turn: every `turn_every_s` (jittered) a skater switches to another crop of its own team and number,
illegible ones included, so a #14 shows his "1" at times and hides it at others.

    from bench.accuracy.generate import generate
    truth = generate("game.mp4", seconds=60, seed=1)   # truth.shifts: [(start_s, end_s), ...]
    layout_of(truth).at(12.0)   # who was drawn where at 12 s, rebuilt from the seed (identities.py)
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from shiftclipper_tracker.torso import torso_lab

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CROPS_DIR = SHARED / "media" / "jersey_crops_nhl_ocr"
DEFAULT_TARGET = ("red", "4")
"""Red #4: legible in most of its crops; red #14 (a teammate) is the similar-number distractor."""
DEFAULT_TARGET_FILES: tuple[str, ...] = ("frm_4_663_23.jpg",)
"""One clean, legible crop of red #4 (a lone upright skater, number facing the camera)."""

TURN_JITTER = (0.6, 1.4)
"""A skater's time between turns is `turn_every_s` times a uniform draw from this range."""

ICE_TOP = 205
"""First ice row (the boards are above), at 720 rows; scaled with the frame height."""
FOOT_MIN, FOOT_MAX = 0.47, 0.99
"""Range of a skater's foot row, as a fraction of the frame height."""
HEIGHT_NEAR, HEIGHT_FAR = 0.36, 0.22
"""Skater height (fraction of frame height) at the bottom and at the top of the ice (perspective)."""
ENTRY_S = 1.0
"""The target skates from the bench (top of the ice) to its path, and back, over this long."""
WANDER_X, WANDER_Y = 0.15, 0.3
"""How far a skater wanders from its lane (fraction of the frame width; of the ice depth)."""
PAN_AMPLITUDE = 0.45
"""Camera pan amplitude as a fraction of the frame width."""


@dataclass
class Crop:
    file: str
    number: str
    team: str
    legible: bool
    img: np.ndarray


@dataclass
class GroundTruth:
    video: str
    duration_s: float
    fps: int
    size: tuple[int, int]
    seed: int
    number: str
    team: str
    color: str
    """Target jersey colour, #rrggbb, measured from the torso of its crops."""
    shifts: list[tuple[float, float]]
    target_crops: list[str] = field(default_factory=list)
    occlusions: list[float] = field(default_factory=list)
    """Times at which another skater is centred in front of the target."""
    skaters_in_view: float = 0.0
    """Mean number of skaters wholly inside the frame (what a perfect detector would find)."""
    turn_every_s: float | None = None
    """Mean time between a non-target skater's crop changes; None: one crop per appearance."""
    skater_scale: float = 1.0
    """Skater heights relative to the close broadcast view (0.5: a wide, LiveBarn-like view)."""
    target_files: list[str] | None = field(default_factory=lambda: list(DEFAULT_TARGET_FILES))
    """The crops the target may be drawn with (`generate(target_files=...)`); None: every legible crop of its number."""
    similar_numbers: bool = True

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))


def _team(lab: tuple[float, float, float]) -> str:
    light, a, _ = lab
    if a > 20:
        return "red"
    return "white" if light > 60 else "navy"


def lab_to_hex(lab: tuple[float, float, float]) -> str:
    px = np.array([[lab]], dtype=np.float32)
    bgr = cv2.cvtColor(px, cv2.COLOR_Lab2BGR)[0, 0]
    b, g, r = (round(float(np.clip(c, 0, 1)) * 255) for c in bgr)
    return f"#{r:02x}{g:02x}{b:02x}"


def load_crops(folder: Path = CROPS_DIR) -> list[Crop]:
    with (folder / "labels.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["file"] and r["jersey_number"].strip()]
    crops = []
    for r in rows:
        img = cv2.imread(str(folder / r["file"]), cv2.IMREAD_COLOR)
        if img is None:
            continue
        lab = torso_lab(img, (0.0, 0.0, 1.0, 1.0))
        if lab is None:
            continue
        legible = r["review"].startswith(("ok", "corrected"))
        crops.append(Crop(r["file"], r["jersey_number"].strip(), _team(lab), legible, img))
    return crops


def shift_schedule(duration: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Target on-ice intervals: one central shift for short videos, else 30-60 s on / 60-120 s off, scaled."""
    if duration < 40:
        return [(round(0.2 * duration, 3), round(0.8 * duration, 3))]
    scale = min(1.0, max(0.25, duration / 600))
    shifts: list[tuple[float, float]] = []
    t = float(rng.uniform(0.1, 0.5)) * 90 * scale
    while True:
        on = float(rng.uniform(30, 60)) * scale
        if t + on > duration - 2:
            break
        shifts.append((round(t, 3), round(t + on, 3)))
        t += on + float(rng.uniform(60, 120)) * scale
    return shifts


class _Path:
    """Smooth 2-D wander: a sum of random sinusoids around a centre, in [-1, 1] on each axis."""

    def __init__(self, rng: np.random.Generator, speed: float = 1.0) -> None:
        self.freq = rng.uniform(1 / 16, 1 / 5, size=(2, 3)) * speed * 2 * math.pi
        self.phase = rng.uniform(0, 2 * math.pi, size=(2, 3))
        self.amp = rng.uniform(0.3, 1.0, size=(2, 3))
        self.amp /= self.amp.sum(axis=1, keepdims=True)

    def at(self, t: float) -> tuple[float, float]:
        v = (self.amp * np.sin(self.freq * t + self.phase)).sum(axis=1)
        return float(v[0]), float(v[1])


@dataclass
class _Skater:
    crop: Crop
    path: _Path
    start: float
    end: float
    home: tuple[float, float]
    """Lane: horizontal offset from the play centre (fraction of the frame width), depth 0 (far) .. 1 (near)."""
    crossing: tuple[float, float] | None = None
    """(time, direction): a crossing skater moves past the target, centred on it at `time`."""
    turns: list[tuple[float, Crop]] = field(default_factory=list)
    """(time, crop), by time: from `time` on the skater shows `crop` (it turned); before the first, `crop`."""

    def crop_at(self, t: float) -> Crop:
        i = bisect.bisect_right(self.turns, t, key=lambda turn: turn[0])
        return self.turns[i - 1][1] if i else self.crop


def _turns(
    first: Crop, identity: Sequence[Crop], start: float, end: float, every: float | None, rng: np.random.Generator
) -> list[tuple[float, Crop]]:
    """When a skater shown as `first` over [start, end) turns, and to which crop of its `identity`.

    It cycles through the identity's crops in a seeded order (never the same crop twice in a row), one every
    `every` s times a jitter in TURN_JITTER; no turns if `every` is 0/None or the identity has one crop.
    """
    rest = [c for c in identity if c.file != first.file]
    if not every or not rest:
        return []
    order = [rest[i] for i in rng.permutation(len(rest))] + [first]
    turns: list[tuple[float, Crop]] = []
    t = start + every * float(rng.uniform(*TURN_JITTER))
    while t < end:
        turns.append((t, order[len(turns) % len(order)]))
        t += every * float(rng.uniform(*TURN_JITTER))
    return turns


@dataclass
class Cast:
    """The crops a game is drawn with, by role."""

    target: list[Crop]
    mates: list[Crop]
    """The target's teammates (other numbers)."""
    similar: list[Crop]
    """Teammates whose number contains the target's or is contained in it (empty without `similar_numbers`)."""
    opponents: list[Crop]
    identities: dict[tuple[str, str], list[Crop]]
    """Every crop, legible or not, by (team, number): what a skater cycles through as it turns."""


def select_cast(
    crops: Sequence[Crop], target: tuple[str, str], target_files: Sequence[str] | None, similar_numbers: bool
) -> Cast:
    team, number = target
    mine = [c for c in crops if c.team == team and c.number == number and c.legible]
    if target_files is not None:
        mine = [c for c in mine if c.file in target_files]
    if not mine:
        raise ValueError(f"no legible crop of {team} #{number}")
    others = [c for c in crops if not (c.team == team and c.number == number)]
    mates = [c for c in others if c.team == team]
    similar = [c for c in mates if number in c.number or c.number in number] if similar_numbers else []
    opponents = [c for c in others if c.team != team]
    identities: dict[tuple[str, str], list[Crop]] = {}
    for c in crops:
        identities.setdefault((c.team, c.number), []).append(c)
    return Cast(mine, mates, similar, opponents, identities)


@dataclass
class Scene:
    """Who is on the ice when: the target's shifts and every skater's appearance (no pixels)."""

    shifts: list[tuple[float, float]]
    target_skaters: list[_Skater]
    skaters: list[_Skater]
    occlusions: list[float]


class _Planner:
    """Builds a Scene; every draw but the turns comes from `rng`, in a fixed order."""

    def __init__(self, cast: Cast, rng: np.random.Generator, turn_rng: np.random.Generator, every: float | None):
        self.cast, self.rng, self.turn_rng, self.every = cast, rng, turn_rng, every
        self.scene = Scene([], [], [], [])

    def other(
        self,
        crop: Crop,
        start: float,
        end: float,
        home: tuple[float, float],
        crossing: tuple[float, float] | None = None,
    ) -> None:
        """A non-target skater: its path from `rng` (same draws as without turning), its turns from `turn_rng`."""
        path = _Path(self.rng)
        turns = _turns(crop, self.cast.identities[(crop.team, crop.number)], start, end, self.every, self.turn_rng)
        self.scene.skaters.append(_Skater(crop, path, start, end, home, crossing, turns))

    def shift(self, i: int, s: float, e: float) -> None:
        """The target's i-th shift, and a skater crossing in front of it every 6-15 s."""
        rng, cast = self.rng, self.cast
        home = (float(rng.uniform(-0.2, 0.2)), float(rng.uniform(0.2, 0.8)))
        self.scene.target_skaters.append(_Skater(cast.target[i % len(cast.target)], _Path(rng), s, e, home))
        t = s + ENTRY_S + float(rng.uniform(1, 6))
        while t < e - ENTRY_S - 1:
            self.scene.occlusions.append(round(t, 3))
            pool = cast.opponents if rng.random() < 0.6 else cast.mates
            direction = 1.0 if rng.random() < 0.5 else -1.0
            self.other(pool[rng.integers(len(pool))], t - 1.5, t + 1.5, (0.0, 0.0), (t, direction))
            t += float(rng.uniform(6, 15))

    def slots(self, duration: float) -> None:
        """Distractor slots: each slot always holds a skater, changed every 30-90 s (line changes)."""
        rng, cast = self.rng, self.cast
        n_slots = int(rng.integers(3, 7))
        lanes = rng.permutation(np.linspace(-0.4, 0.4, n_slots))
        for slot in range(n_slots):
            t = 0.0
            while t < duration:
                stint = float(rng.uniform(30, 90))
                similar_stint = slot == 0 and bool(cast.similar) and rng.random() < 0.5
                pool = cast.similar if similar_stint else cast.mates if slot % 2 else cast.opponents
                crop = pool[rng.integers(len(pool))]
                home = (float(lanes[slot] + rng.uniform(-0.08, 0.08)), float(rng.uniform(0.0, 1.0)))
                self.other(crop, t, min(duration, t + stint) + 1e-6, home)
                t += stint


def plan_scene(
    duration: float,
    cast: Cast,
    rng: np.random.Generator,
    turn_rng: np.random.Generator,
    turn_every_s: float | None = None,
) -> Scene:
    """Shifts, crossings and line changes from `rng`; turns only from `turn_rng`, so `rng`'s draws (and the
    shifts) are the same with or without turning."""
    planner = _Planner(cast, rng, turn_rng, turn_every_s)
    planner.scene.shifts = shift_schedule(duration, rng)
    for i, (s, e) in enumerate(planner.scene.shifts):
        planner.shift(i, s, e)
    planner.slots(duration)
    return planner.scene


def _rink(world_w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Broadcast-view rink wider than the frame: crowd, glass, ad boards, kick plate; ice with lines."""
    img = np.empty((h, world_w, 3), np.uint8)
    top = round(ICE_TOP * h / 720)
    crowd = top * 45 // 100
    img[:crowd] = rng.integers(20, 90, size=(crowd, world_w, 3), dtype=np.uint8)
    img[crowd : top * 70 // 100] = (150, 140, 135)
    ads = img[top * 70 // 100 : top - 8]
    ads[:] = (245, 245, 245)
    for x in range(0, world_w, 260):
        colour = tuple(int(c) for c in rng.integers(0, 255, size=3))
        cv2.rectangle(ads, (x + 20, 6), (x + 200, ads.shape[0] - 6), colour, -1)
    img[top - 8 : top] = (40, 200, 235)  # yellow kick plate (BGR)
    ice = np.full((h - top, world_w, 3), (238, 234, 228), np.uint8)
    ice -= rng.integers(0, 8, size=ice.shape, dtype=np.uint8)
    ih = h - top
    for x, colour in ((world_w // 2, (40, 40, 200)), (world_w // 2 - world_w // 4, (170, 80, 20))):
        cv2.line(ice, (x, 0), (x - 60, ih), colour, 14, cv2.LINE_AA)
    cv2.line(ice, (world_w * 3 // 4, 0), (world_w * 3 // 4 + 60, ih), (170, 80, 20), 14, cv2.LINE_AA)
    for cx in (world_w // 2, world_w // 8, world_w * 7 // 8):
        cv2.ellipse(ice, (cx, ih // 2), (220, 90), 0, 0, 360, (60, 60, 200), 3, cv2.LINE_AA)
    img[top:] = ice
    return img


def sprite_size(crop: Crop, height: float) -> tuple[int, int]:
    """(width, height) in pixels of `crop` drawn `height` tall (quantised to 4 px so sprites can be cached)."""
    quantised = max(16, round(height) // 4 * 4)
    h, w = crop.img.shape[:2]
    return max(8, round(w * quantised / h)), quantised


@dataclass(frozen=True)
class Placed:
    """One skater as drawn on one frame: `crop` with its bottom centre at (`x`, `foot`), `height` px tall."""

    skater: int
    """Index in `Layout.skaters` (the target's shifts first, one skater each, then everyone else)."""
    target: bool
    crop: Crop
    x: float
    foot: float
    height: int

    def box(self) -> tuple[float, float, float, float]:
        """The drawn rectangle, (x0, y0, x1, y1) in pixels (may reach outside the frame)."""
        w, h = sprite_size(self.crop, self.height)
        x0, y0 = round(self.x - w / 2), round(self.foot - h)
        return float(x0), float(y0), float(x0 + w), float(y0 + h)


class Layout:
    """Where the camera looks and where every skater is drawn at time t: the picture without the pixels."""

    def __init__(self, scene: Scene, play: _Path, size: tuple[int, int], world_w: int, skater_scale: float) -> None:
        self.scene, self.play, self.world_w, self.skater_scale = scene, play, world_w, skater_scale
        self.width, self.height = size
        self.skaters = scene.target_skaters + scene.skaters
        self.foot_lo, self.foot_hi = FOOT_MIN * self.height, FOOT_MAX * self.height

    def is_target(self, skater: int) -> bool:
        """Whether `skater` (an index in `skaters`) is the target, in one of his shifts."""
        return skater < len(self.scene.target_skaters)

    def camera_x(self, t: float) -> float:
        """Left edge of the frame in the rink picture (the camera follows the play 0.7 s late)."""
        cam_x = self.world_w / 2 + self.play.at(t - 0.7)[0] * PAN_AMPLITUDE * self.width - self.width / 2
        return min(max(cam_x, 0.0), self.world_w - self.width)

    def at(self, t: float) -> list[Placed]:
        """Every skater on the ice at `t`, far to near (drawing order), in frame pixels."""
        centre = self.world_w / 2 + self.play.at(t)[0] * PAN_AMPLITUDE * self.width - self.camera_x(t)
        placed: list[tuple[float, int, Crop, float]] = []
        target_pos: tuple[float, float] | None = None
        for i, sk in enumerate(self.scene.target_skaters):
            if sk.start <= t < sk.end:
                x, foot = self._place(sk, t, centre)
                ramp = min(1.0, (t - sk.start) / ENTRY_S, (sk.end - t) / ENTRY_S)
                foot = self.foot_lo + (foot - self.foot_lo) * ramp  # from/to the bench at the top of the ice
                target_pos = (x, foot)
                placed.append((foot, i, sk.crop, x))
        for i, sk in enumerate(self.scene.skaters, start=len(self.scene.target_skaters)):
            if not sk.start <= t < sk.end:
                continue
            if sk.crossing is None:
                x, foot = self._place(sk, t, centre)
                placed.append((foot, i, sk.crop_at(t), x))
            elif target_pos is not None:
                tc, direction = sk.crossing
                x = target_pos[0] + direction * 320 * self.width / 1280 * (t - tc)
                placed.append((target_pos[1] + 0.04 * self.height, i, sk.crop_at(t), x))
        return [
            Placed(i, self.is_target(i), crop, x, foot, self._height(foot))
            for foot, i, crop, x in sorted(placed, key=lambda d: d[0])
        ]

    def _place(self, sk: _Skater, t: float, centre: float) -> tuple[float, float]:
        px, py = sk.path.at(t)
        x = centre + (sk.home[0] + WANDER_X * px) * self.width
        depth = min(1.0, max(0.0, sk.home[1] + WANDER_Y * py))
        return x, self.foot_lo + depth * (self.foot_hi - self.foot_lo)

    def _height(self, foot: float) -> int:
        rel = (foot - self.foot_lo) / (self.foot_hi - self.foot_lo)
        return round(self.height * self.skater_scale * (HEIGHT_FAR + (HEIGHT_NEAR - HEIGHT_FAR) * rel))


class _Sprites:
    """Crops resized to a quantised height with a feathered alpha mask, cached."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, crop: Crop, height: int) -> tuple[np.ndarray, np.ndarray]:
        width, height = sprite_size(crop, height)
        key = (crop.file, height)
        if key not in self.cache:
            img = cv2.resize(crop.img, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            mask: np.ndarray = np.zeros((height, width), np.float32)
            edge = max(2, width // 14)
            mask[edge:-edge, edge:-edge] = 1.0
            mask = cv2.GaussianBlur(mask, (0, 0), edge / 2)[..., None]
            self.cache[key] = (img, mask)
        return self.cache[key]


def _paste(frame: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], placed: Placed) -> None:
    img, mask = sprite
    h, w = img.shape[:2]
    x0, y0 = (int(v) for v in placed.box()[:2])
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sub = frame[fy0:fy1, fx0:fx1]
    s_img = img[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    s_mask = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    sub[:] = (sub * (1.0 - s_mask) + s_img * s_mask).astype(np.uint8)


def _build(
    duration: float, seed: int, size: tuple[int, int], cast: Cast, turn_every_s: float | None, skater_scale: float
) -> tuple[Layout, np.ndarray, np.random.Generator]:
    """The game's plan, its rink picture and the seeded generator as rendering goes on to use it."""
    rng = np.random.default_rng(seed)
    scene = plan_scene(duration, cast, rng, np.random.default_rng([seed, 1]), turn_every_s)
    world_w = size[0] + 2 * round(PAN_AMPLITUDE * size[0]) + 64
    rink = _rink(world_w, size[1], rng)
    play = _Path(rng, speed=0.5)
    return Layout(scene, play, size, world_w, skater_scale), rink, rng


def generate(
    path: str | Path,
    *,
    seconds: float | None = None,
    minutes: float | None = None,
    seed: int = 1,
    fps: int = 30,
    size: tuple[int, int] = (1280, 720),
    target: tuple[str, str] = DEFAULT_TARGET,
    target_files: Sequence[str] | None = DEFAULT_TARGET_FILES,
    similar_numbers: bool = True,
    crops_dir: Path = CROPS_DIR,
    turn_every_s: float | None = 2.0,
    skater_scale: float = 1.0,
) -> GroundTruth:
    """Render the video to `path` (H.264 mp4) and return its ground truth (also saved as `<path>.truth.json`).

    `target_files`: the crops the target is drawn with (one per shift, in turn); None: every legible crop of
    `target` (a harder variant: the target changes pose and crop background between shifts).
    `similar_numbers`: one distractor slot is, half of the time, a teammate whose number contains the target's
    (red #14 for #4), which a reader that drops a digit confuses with the target.
    `turn_every_s`: other skaters switch to another crop of their team and number about this often (jittered
    0.6-1.4x, seeded); 0 or None: one crop per appearance. The shifts do not depend on it.
    `skater_scale`: skater heights times this (`HEIGHT_NEAR`/`HEIGHT_FAR` are the close broadcast view's); 0.5
    is a wide view, where the numbers are a few pixels tall. Only the drawing changes, not the plan.
    """
    duration = float(seconds if seconds is not None else (minutes or 1.0) * 60)
    width, height = size
    team, number = target
    try:
        cast = select_cast(load_crops(crops_dir), target, target_files, similar_numbers)
    except ValueError as e:
        raise ValueError(f"{e} in {crops_dir}") from None
    colour = lab_to_hex(tuple(np.median([torso_lab(c.img, (0.0, 0.0, 1.0, 1.0)) for c in cast.target], axis=0)))
    layout, rink, rng = _build(duration, seed, size, cast, turn_every_s, skater_scale)
    scene = layout.scene
    sprites = _Sprites()
    noise = [rng.normal(0, 3, size=(height, width, 3)).astype(np.int16) for _ in range(4)]
    noise_pos = [np.clip(n, 0, 255).astype(np.uint8) for n in noise]
    noise_neg = [np.clip(-n, 0, 255).astype(np.uint8) for n in noise]

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(out), "w")
    stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(fps * 2)})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    n_frames = round(duration * fps)
    visible = 0
    try:
        for i in range(n_frames):
            t = i / fps
            cam_x = layout.camera_x(t)
            frame = rink[:, round(cam_x) : round(cam_x) + width].copy()
            for placed in layout.at(t):
                sprite = sprites.get(placed.crop, placed.height)
                _paste(frame, sprite, placed)
                visible += abs(placed.x - width / 2) + sprite[0].shape[1] / 2 <= width / 2
            frame = cv2.GaussianBlur(frame, (3, 3), 0.7)
            k = i % len(noise)
            frame = cv2.subtract(cv2.add(frame, noise_pos[k]), noise_neg[k])
            yuv = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()

    truth = GroundTruth(
        video=str(out),
        duration_s=n_frames / fps,
        fps=fps,
        size=(width, height),
        seed=seed,
        number=number,
        team=team,
        color=colour,
        shifts=scene.shifts,
        target_crops=[sk.crop.file for sk in scene.target_skaters],
        occlusions=scene.occlusions,
        skaters_in_view=round(visible / max(1, n_frames), 2),
        turn_every_s=turn_every_s or None,
        skater_scale=skater_scale,
        target_files=None if target_files is None else list(target_files),
        similar_numbers=similar_numbers,
    )
    truth.save(out.with_name(out.name + ".truth.json"))
    return truth


def layout_of(truth: GroundTruth, crops_dir: Path = CROPS_DIR) -> Layout:
    """Where `generate` drew every skater of `truth`'s video, rebuilt from its seed and options (no rendering)."""
    cast = select_cast(load_crops(crops_dir), (truth.team, truth.number), truth.target_files, truth.similar_numbers)
    size = (int(truth.size[0]), int(truth.size[1]))
    layout, _, _ = _build(truth.duration_s, truth.seed, size, cast, truth.turn_every_s, truth.skater_scale)
    drawn = [sk.crop.file for sk in layout.scene.target_skaters]
    if [tuple(s) for s in layout.scene.shifts] != [tuple(s) for s in truth.shifts] or drawn != truth.target_crops:
        raise ValueError(
            f"{truth.video}: rebuilding its plan gives other shifts or target crops than its truth records"
            " (generated with other options: target_files, similar_numbers?)"
        )
    return layout
