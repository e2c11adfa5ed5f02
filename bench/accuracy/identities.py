"""Who each track really was: a recording's tracks matched to the skaters the generator drew, frame by frame.

The generator's plan is rebuilt from the truth's seed (`generate.layout_of`, no rendering), so any recording of a
generated game can be checked: how often tracks change skater, how well the target is followed, and which of the
core's locks were on someone else (and who). Pure functions over frames and a timeline; the command is
`bench.accuracy.replay identities`, and `bench.accuracy.run` adds the figures to its diagnosis.

    .venv/bin/python -m bench.accuracy.replay identities /tmp/rec/s19 [/tmp/rec/s19f ...] [--locks]
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from shiftclipper_tracker.core.observations import FrameObs
from shiftclipper_tracker.core.timeline import TimelineEntry

from .generate import Layout, Placed

MIN_IOU = 0.3
"""A track box and a drawn skater match at this IoU or more (a detector box sits inside the drawn crop)."""


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match_frame(frame: FrameObs, placed: list[Placed], size: tuple[int, int]) -> dict[int, Placed]:
    """Track id -> the drawn skater its box covers best (greedy by IoU, one skater per track and vice versa)."""
    w, h = size
    drawn = [(p, _clip(p.box(), w, h)) for p in placed]
    pairs = []
    for obs in frame.tracks:
        box = (obs.box[0] * w, obs.box[1] * h, obs.box[2] * w, obs.box[3] * h)
        pairs += [(iou(box, clipped), obs.track_id, i) for i, (_, clipped) in enumerate(drawn)]
    out: dict[int, Placed] = {}
    used: set[int] = set()
    for score, track_id, i in sorted(pairs, reverse=True):
        if score < MIN_IOU:
            break
        if track_id not in out and i not in used:
            out[track_id] = drawn[i][0]
            used.add(i)
    return out


def _clip(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    return max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])


def _visible(p: Placed, w: int) -> bool:
    """At least half of the skater's width inside the frame."""
    x0, _, x1, _ = p.box()
    return min(float(w), x1) - max(0.0, x0) >= (x1 - x0) / 2


@dataclass
class Identities:
    """A recording's tracks, labelled."""

    skater_frames: dict[int, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    """Track id -> frames per drawn skater (index in `Layout.skaters`)."""
    at: dict[tuple[int, float], int] = field(default_factory=dict)
    """(track id, t) -> the skater the track covered on that frame."""
    life: dict[int, list[float]] = field(default_factory=dict)
    """Track id -> [first t, last t]."""
    target_visible: int = 0
    """Processed frames with the target at least half inside the frame."""
    target_tracked: int = 0
    """... of which the target was on some track."""
    target_tracks: list[int] = field(default_factory=list)
    """The tracks that covered the target, in order of first coverage."""

    def main_skater(self, track_id: int) -> int | None:
        """The skater the track covered on most of its labelled frames (None: never labelled)."""
        counts = self.skater_frames.get(track_id)
        return counts.most_common(1)[0][0] if counts else None

    def purity(self) -> float:
        """Share of labelled frames on their track's main skater (1.0: no track ever changed skater)."""
        labelled = sum(sum(c.values()) for c in self.skater_frames.values())
        pure = sum(c.most_common(1)[0][1] for c in self.skater_frames.values())
        return pure / max(labelled, 1)

    def coverage(self) -> float:
        """Share of the processed frames with the target in view on which he was on a track."""
        return self.target_tracked / max(self.target_visible, 1)


def label(frames: list[FrameObs], layout: Layout) -> Identities:
    size = (layout.width, layout.height)
    out = Identities()
    for frame in frames:
        placed = layout.at(frame.t)
        matched = match_frame(frame, placed, size)
        for obs in frame.tracks:
            out.life.setdefault(obs.track_id, [frame.t, frame.t])[1] = frame.t
        for track_id, p in matched.items():
            out.skater_frames[track_id][p.skater] += 1
            out.at[(track_id, frame.t)] = p.skater
        target = next((p for p in placed if p.target and _visible(p, layout.width)), None)
        if target is None:
            continue
        out.target_visible += 1
        on = [tid for tid, p in matched.items() if p.skater == target.skater]
        out.target_tracked += bool(on)
        out.target_tracks += [tid for tid in on if tid not in out.target_tracks]
    return out


def who(layout: Layout, skater: int | None) -> str:
    if skater is None:
        return "nobody drawn"
    sk = layout.skaters[skater]
    role = "TARGET" if layout.is_target(skater) else f"skater {skater}"
    return f"{sk.crop.team} #{sk.crop.number} ({role})"


def summary(ids: Identities, layout: Layout) -> list[str]:
    lives = [b - a for a, b in ids.life.values()]
    mixed = sum(1 for c in ids.skater_frames.values() if len(c) > 1)
    mains = [ids.main_skater(t) for t in ids.skater_frames]
    mainly_target = sum(1 for m in mains if m is not None and layout.is_target(m))
    return [
        f"  tracks {len(ids.life)}, median life {statistics.median(lives or [0.0]):.1f} s; labelled frames on their"
        f" track's main skater {ids.purity():.3f}; tracks covering more than one skater {mixed}",
        f"  target: visible on {ids.target_visible} processed frames, on a track on {ids.target_tracked}"
        f" ({ids.coverage():.1%}); {len(ids.target_tracks)} tracks covered him, {mainly_target} mainly him",
    ]


@dataclass(frozen=True)
class LockCheck:
    entry: TimelineEntry
    """A `locked` record of the core's timeline (a lock by votes, or by re-linking a lost identity)."""
    skater: int | None
    """The skater its track covered then (else its track's main skater; None: nobody drawn)."""
    on_target: bool


def check_locks(timeline: Sequence[TimelineEntry], ids: Identities, layout: Layout) -> list[LockCheck]:
    """Each lock of the core's timeline, and whether its track was on the target at that moment."""
    out = []
    for e in timeline:
        if e.kind != "locked" or e.track_id is None:
            continue
        skater = ids.at.get((e.track_id, e.t), ids.main_skater(e.track_id))
        out.append(LockCheck(e, skater, skater is not None and layout.is_target(skater)))
    return out


def lock_lines(checks: list[LockCheck], layout: Layout) -> list[str]:
    wrong = sum(not c.on_target for c in checks)
    lines = [f"  locks {len(checks)}, not on the target {wrong}"]
    for c in checks:
        mark = "  " if c.on_target else "!!"
        e = c.entry
        lines.append(f"   {mark} {e.t:7.2f} s track {e.track_id}: {who(layout, c.skater)} conf {e.confidence}")
    return lines
