"""Who each track was (bench/accuracy/identities.py) and the rebuilt layout it stands on (generate.layout_of).

Needs ../shared/media/jersey_crops_nhl_ocr (the plan draws its crops); skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.accuracy import generate as gen
from bench.accuracy.generate import GroundTruth, Layout, Placed, layout_of
from bench.accuracy.identities import iou, label
from shiftclipper_tracker.core.observations import FrameObs, TrackObs

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CROPS = SHARED / "media" / "jersey_crops_nhl_ocr" / "labels.csv"
pytestmark = pytest.mark.skipif(not CROPS.exists(), reason="../shared crops (jersey_crops_nhl_ocr) absent")


def _truth(**kw: object) -> GroundTruth:
    base: dict = dict(video="game.mp4", duration_s=300.0, fps=30, size=(1280, 720), seed=5, number="4")
    base.update(team="red", color="#000000", shifts=[], turn_every_s=2.0)
    base.update(kw)
    return GroundTruth(**base)


@pytest.fixture(scope="module")
def layout() -> Layout:
    """A 5-minute game's plan: the shifts and target crops its truth would record, then rebuilt from them."""
    cast = gen.select_cast(gen.load_crops(CROPS.parent), ("red", "4"), gen.DEFAULT_TARGET_FILES, True)
    planned, _, _ = gen._build(300.0, 5, (1280, 720), cast, 2.0, 1.0)
    crops = [sk.crop.file for sk in planned.scene.target_skaters]
    return layout_of(_truth(shifts=planned.scene.shifts, target_crops=crops))


def test_layout_of_rebuilds_what_generate_drew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every skater `generate` placed on every frame is where the rebuilt layout puts it."""
    drawn: list[tuple[float, list[Placed]]] = []
    at = Layout.at

    def spy(self: Layout, t: float) -> list[Placed]:
        out = at(self, t)
        drawn.append((t, out))
        return out

    monkeypatch.setattr(Layout, "at", spy)
    truth = generate_tiny(tmp_path)
    monkeypatch.setattr(Layout, "at", at)
    rebuilt = layout_of(truth)
    assert drawn and any(placed for _, placed in drawn)
    for t, placed in drawn:
        assert _key(rebuilt.at(t)) == _key(placed)


def _key(placed: list[Placed]) -> list[tuple[int, bool, str, float, float, int]]:
    return [(p.skater, p.target, p.crop.file, p.x, p.foot, p.height) for p in placed]


def generate_tiny(tmp_path: Path) -> GroundTruth:
    return gen.generate(tmp_path / "g.mp4", seconds=3, seed=7, size=(256, 144), fps=5, skater_scale=0.5)


def test_layout_of_refuses_a_truth_its_seed_does_not_give(layout: Layout) -> None:
    with pytest.raises(ValueError, match="other shifts or target crops"):
        layout_of(_truth(shifts=[(1.0, 2.0)], target_crops=["frm_4_663_23.jpg"]))
    crops = [sk.crop.file for sk in layout.scene.target_skaters]
    with pytest.raises(ValueError, match="other shifts or target crops"):  # drawn with every legible crop of #4
        layout_of(_truth(shifts=layout.scene.shifts, target_crops=crops, target_files=None))


def _frame(layout: Layout, t: float, ids: dict[int, int]) -> FrameObs:
    """What a detector would report at `t`: each drawn skater's box shrunk a little, under the id `ids` gives
    its index (skaters absent from `ids` are missed)."""
    tracks = []
    for p in layout.at(t):
        if p.skater not in ids:
            continue
        x0, y0, x1, y1 = max(0.0, p.box()[0]), p.box()[1], min(1280.0, p.box()[2]), p.box()[3]  # inside the frame
        dx, dy = 0.1 * (x1 - x0), 0.05 * (y1 - y0)
        box = ((x0 + dx) / 1280, (y0 + dy) / 720, (x1 - dx) / 1280, (y1 - dy) / 720)
        tracks.append(TrackObs(track_id=ids[p.skater], box=box, det_conf=0.9))
    return FrameObs(frame_index=round(t * 30), t=t, tracks=tracks)


def _quiet_window(layout: Layout, n: int) -> list[float]:
    """`n` frames 0.1 s apart in the target's first shift with nobody crossing in front of him (then his box is
    his own: a skater drawn over him may match a detector box better than he does)."""
    start, end = layout.scene.shifts[0]
    for first in range(20, round((end - start) * 10) - n):
        times = [round(start + 0.1 * (first + i), 3) for i in range(n)]
        crossing = (layout.skaters[p.skater].crossing is not None for t in times for p in layout.at(t))
        if not any(crossing):
            return times
    raise AssertionError("no quiet window")


def test_label_follows_the_target_across_a_change_of_track(layout: Layout) -> None:
    times = _quiet_window(layout, 40)
    others = {p.skater for t in times for p in layout.at(t) if not p.target}
    frames = []
    for i, t in enumerate(times):
        ids = {s: 100 + s for s in others} | {0: 7 if i < 20 else 8}  # the target's track is lost and re-found
        if i == 30:
            del ids[0]  # one frame the detector misses him
        frames.append(_frame(layout, t, ids))
    ids = label(frames, layout)
    visible = [t for t in times if any(p.target and p.box()[2] > 0 and p.box()[0] < 1280 for p in layout.at(t))]
    assert ids.target_visible == len(visible) > 30
    assert ids.target_tracked == ids.target_visible - 1
    assert ids.target_tracks == [7, 8]
    assert ids.skater_frames[7] == {0: 20} and ids.skater_frames[8] == {0: 19}
    for s in others:  # every other track labelled with its own skater only
        assert set(ids.skater_frames.get(100 + s, {0: 0})) <= {s}
    assert ids.at[(7, times[0])] == 0


def test_label_counts_a_track_that_moves_to_another_skater(layout: Layout) -> None:
    times = _quiet_window(layout, 10)
    mate = next(p.skater for p in layout.at(times[0]) if not p.target)
    frames = [_frame(layout, t, {0: 7, mate: 9} if i < 5 else {0: 9, mate: 7}) for i, t in enumerate(times)]
    ids = label(frames, layout)
    assert ids.skater_frames[7] == {0: 5, mate: 5} and ids.target_tracks == [7, 9]


def test_iou() -> None:
    assert iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert iou((0, 0, 2, 2), (0, 0, 2, 2)) == 1.0
