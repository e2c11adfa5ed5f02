"""Game generator (bench/accuracy/generate.py): skaters turn (cycle their own crops), seeded, schedule unchanged.

The scene is planned without pixels (`plan_scene`); one tiny render checks that `generate` draws the turns.
Needs ../shared/media/jersey_crops_nhl_ocr for all but the `_turns` tests; skipped without it.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from bench.accuracy.generate import (
    DEFAULT_TARGET,
    DEFAULT_TARGET_FILES,
    TURN_JITTER,
    Cast,
    Crop,
    Scene,
    _Skater,
    _Sprites,
    _turns,
    generate,
    load_crops,
    plan_scene,
    select_cast,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CROPS = SHARED / "media" / "jersey_crops_nhl_ocr" / "labels.csv"
needs_crops = pytest.mark.skipif(not CROPS.exists(), reason="../shared crops (jersey_crops_nhl_ocr) absent")


@pytest.fixture(scope="module")
def cast() -> Cast:
    return select_cast(load_crops(CROPS.parent), DEFAULT_TARGET, DEFAULT_TARGET_FILES, similar_numbers=True)


def _plan(cast: Cast, seed: int, turn_every_s: float | None, duration: float = 300.0) -> Scene:
    return plan_scene(duration, cast, np.random.default_rng(seed), np.random.default_rng([seed, 1]), turn_every_s)


def _shown(sk: _Skater, step: float = 0.1) -> list[str]:
    """The crop file a skater shows at every `step` s of its appearance."""
    return [sk.crop_at(t).file for t in np.arange(sk.start, sk.end, step)]


def _fake(file: str, number: str = "14", team: str = "red", legible: bool = True) -> Crop:
    return Crop(file, number, team, legible, np.zeros((8, 4, 3), np.uint8))


def test_turns_cycle_every_crop_of_the_identity() -> None:
    identity = [_fake(f"{i}.jpg", legible=i != 3) for i in range(5)]
    turns = _turns(identity[0], identity, 10.0, 70.0, 2.0, np.random.default_rng(0))
    times, files = [t for t, _ in turns], [c.file for _, c in turns]
    assert all(10.0 < t < 70.0 for t in times)
    gaps = np.diff([10.0, *times])
    assert ((gaps >= 2.0 * TURN_JITTER[0]) & (gaps <= 2.0 * TURN_JITTER[1])).all()
    assert 60 / (2.0 * TURN_JITTER[1]) - 1 <= len(turns) <= 60 / (2.0 * TURN_JITTER[0])
    shown = ["0.jpg", *files]
    assert all(a != b for a, b in pairwise(shown))  # a turn always changes the crop
    assert set(shown[:5]) == {c.file for c in identity}  # every crop (the illegible 3.jpg too) before a repeat
    assert shown[5:10] == shown[:5]


def test_turns_disabled_or_single_crop() -> None:
    identity = [_fake("a.jpg"), _fake("b.jpg")]
    rng = np.random.default_rng(0)
    assert _turns(identity[0], identity, 0.0, 60.0, 0, rng) == []
    assert _turns(identity[0], identity, 0.0, 60.0, None, rng) == []
    assert _turns(identity[0], identity[:1], 0.0, 60.0, 2.0, rng) == []


@needs_crops
def test_skaters_turn_within_their_identity(cast: Cast) -> None:
    scene = _plan(cast, seed=2, turn_every_s=2.0)
    long_ones = [sk for sk in scene.skaters if sk.end - sk.start > 10]
    several = [sk for sk in long_ones if len(cast.identities[(sk.crop.team, sk.crop.number)]) > 1]
    assert several
    for sk in several:
        shown = _shown(sk)
        assert len(set(shown)) > 1, sk.crop.file
        by_file = {c.file: c for c in cast.identities[(sk.crop.team, sk.crop.number)]}
        assert set(shown) <= set(by_file)  # same team and number, nothing else
        assert shown[0] == sk.crop.file
    # The similar-number teammate (red #14) turns too, and shows several of his crops.
    fourteens = [sk for sk in several if (sk.crop.team, sk.crop.number) == ("red", "14")]
    assert fourteens
    assert all(len(set(_shown(sk))) >= 5 for sk in fourteens)


@needs_crops
def test_target_never_turns(cast: Cast) -> None:
    scene = _plan(cast, seed=2, turn_every_s=2.0)
    assert scene.target_skaters
    for sk in scene.target_skaters:
        assert sk.turns == []
        assert set(_shown(sk, step=1.0)) == {sk.crop.file}
        assert sk.crop.file in DEFAULT_TARGET_FILES


@needs_crops
def test_turns_are_deterministic_per_seed(cast: Cast) -> None:
    def sequence(seed: int) -> list[list[tuple[float, str]]]:
        return [[(t, c.file) for t, c in sk.turns] for sk in _plan(cast, seed, 2.0).skaters]

    assert sequence(2) == sequence(2)
    assert sequence(2) != sequence(3)


@needs_crops
@pytest.mark.parametrize("off", [0, None])
def test_no_turning_one_crop_per_appearance(cast: Cast, off: float | None) -> None:
    scene = _plan(cast, seed=2, turn_every_s=off)
    for sk in scene.skaters:
        assert sk.turns == []
        assert set(_shown(sk, step=0.5)) == {sk.crop.file}


@needs_crops
@pytest.mark.parametrize(("seed", "duration"), [(1, 60.0), (2, 300.0), (3, 600.0)])
def test_turning_leaves_the_schedule_unchanged(cast: Cast, seed: int, duration: float) -> None:
    rngs = {turn: np.random.default_rng(seed) for turn in (None, 2.0)}
    scenes = {
        turn: plan_scene(duration, cast, rng, np.random.default_rng([seed, 1]), turn) for turn, rng in rngs.items()
    }
    off, on = scenes[None], scenes[2.0]
    assert on.shifts == off.shifts and on.shifts
    assert on.occlusions == off.occlusions

    def who(scene: Scene) -> list[tuple]:
        return [(sk.crop.file, sk.start, sk.end, sk.home, sk.crossing) for sk in scene.target_skaters + scene.skaters]

    assert who(on) == who(off)
    assert any(sk.turns for sk in on.skaters)
    # The main generator is left in the same state, so the rink, camera and noise drawn next are the same too.
    assert rngs[2.0].bit_generator.state == rngs[None].bit_generator.state


@needs_crops
def test_generate_draws_the_turns(tmp_path: Path) -> None:
    """A tiny render: same truth with and without turning, and the frames differ once skaters have turned."""
    kw = {"seconds": 4, "seed": 2, "size": (256, 144), "fps": 10}
    on = generate(tmp_path / "on.mp4", turn_every_s=1.0, **kw)
    off = generate(tmp_path / "off.mp4", turn_every_s=0, **kw)
    assert on.shifts == off.shifts and on.occlusions == off.occlusions
    assert (on.turn_every_s, off.turn_every_s) == (1.0, None)

    def last_frame(video: str) -> np.ndarray:
        with av.open(video) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][-1].astype(np.int16)

    assert np.abs(last_frame(on.video) - last_frame(off.video)).mean() > 1.0


@needs_crops
def test_skater_scale_draws_smaller_skaters_on_the_same_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide view (`skater_scale` 0.5) draws every skater at half the height, with the same shifts."""
    heights: dict[float, list[int]] = {}
    draw = _Sprites.get

    def spy(self: _Sprites, crop: Crop, height: int) -> tuple[np.ndarray, np.ndarray]:
        heights.setdefault(scale, []).append(height)
        return draw(self, crop, height)

    monkeypatch.setattr(_Sprites, "get", spy)
    truths = {}
    for scale in (1.0, 0.5):
        truths[scale] = generate(
            tmp_path / f"{scale}.mp4", seconds=2, seed=3, size=(320, 180), fps=5, skater_scale=scale
        )
    assert truths[0.5].shifts == truths[1.0].shifts and truths[0.5].skater_scale == 0.5
    assert len(heights[0.5]) == len(heights[1.0]) > 0
    for small, full in zip(heights[0.5], heights[1.0], strict=True):
        assert abs(small - full / 2) <= 1
