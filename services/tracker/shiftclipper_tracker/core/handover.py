"""Where a tracker id changed hands, from one track's reads, crossings and colour history.

A tracker id can change hands when two skaters cross (the tracker swaps their ids), so each track keeps a short
history of its reads and of the moments its box overlapped another's: a run of target reads after another
number's, with a crossing in between, starts a new identity on that track (`switched`); an identity lost to
conflicting reads after a crossing ends at that crossing (`split_time`) instead of being wholly disowned. Without
a crossing, reads are just votes unless the change is plain (PLAIN_HANDOVER_FACTOR): ByteTrack also passes ids
where boxes never overlap.
"""

from __future__ import annotations

from collections.abc import Callable

from .color import colour_changed_at
from .evidence import (
    COLOR_SAMPLES,
    EPS,
    OFF_COLOUR_MIN_S,
    SUPERSET_WEIGHT,
    SURE_CONF,
    Read,
    ReadKind,
    TrackIdentity,
)
from .geometry import overlap_of_smaller
from .observations import Lab, TrackObs

SWITCH_MIN_READS = 3
SWITCH_FACTOR = 1.5
"""A track whose latest SWITCH_MIN_READS (or more) reads all give the target, worth SWITCH_FACTOR x
vote_threshold, right after reads of a different number worth vote_threshold net, changed hands: its older
evidence is dropped."""
CROSSING_OVERLAP = 0.3
"""Boxes overlapping by this much (of the smaller one) are crossing: the moment ids can swap."""
CROSSING_SLACK_S = 1.0
"""While two boxes overlap, a crop holds both skaters and reads either number: a crossing up to this long
before the last read of the other number still explains a hand-over."""
CROSSINGS_KEPT = 24
PLAIN_HANDOVER_FACTOR = 2.0
"""Ids also change hands where no boxes overlap (ByteTrack can pass an id to a skater who appears as another
leaves), so without a crossing the reads alone show a hand-over when the reads on the far side of it are worth
this many vote_thresholds: on the 60-minute benchmark game a track read "1" for 35 s, then "4" (the target),
and its shift started 38 s early; another read "2", "5", "13", then "4", 11.5 s early. A couple of misreads
stay votes and move no shift boundary. Target reads worth this many at DOUBT_CONF or more, right after another
number's, also drop the track's older evidence as a crossing would (`switched`)."""


def switched(tr: TrackIdentity, threshold: float) -> bool:
    """Whether the track's latest reads say it now follows the target after following someone else;
    if so, only those reads count from now on. The change is placed at a crossing between the two runs of
    reads, or, where the target's run holds reads worth PLAIN_HANDOVER_FACTOR thresholds at DOUBT_CONF or more
    (`assured`), midway between them: ByteTrack also passes ids with no overlap, and a #14's superset reads,
    which never fade, would otherwise keep the target from that id for good (the 5-minute seed-6 game)."""
    suffix = trailing(tr.reads, ReadKind.full)
    before = tr.reads[: len(tr.reads) - len(suffix)]
    if not before or before[-1][2] != ReadKind.conflict.value or len(suffix) < SWITCH_MIN_READS:
        return False  # a superset read just before ("14" for 4) is the same player, not a hand-over
    gained = sum(w for _, w, _ in suffix)
    if gained < SWITCH_FACTOR * threshold or sum(w for _, w, _ in before) > -threshold:
        return False  # one stray misread before is noise, not another player's established identity
    crossed = crossing_between(tr.crossings, before[-1][0] - CROSSING_SLACK_S, suffix[0][0])
    if crossed is None and tr.assured >= PLAIN_HANDOVER_FACTOR * threshold - EPS:
        crossed = (before[-1][0] + suffix[0][0]) / 2
    if crossed is None:
        return False
    tr.support, tr.partial, tr.conflict, tr.superset = gained, 0.0, 0.0, 0.0
    tr.reads, tr.since = suffix, crossed
    return True


def wearer_since(tr: TrackIdentity, interval_s: float, threshold: float) -> float | None:
    """For a track that just became the target: when its current wearer took the id, as far as the track
    shows, or None (from its first sighting). Four marks, the latest wins: where its reads showed a hand-over
    (`since`: a crossing, or midway between two plain runs, `switched`); the frame (`interval_s`) after its
    latest run of OFF_COLOUR_MIN_S or more out of the jersey colour; a change from another colour to its current one
    (`colour_changed_at`: the jersey gate is loose, so a first wearer may pass it); and a plain change of reads
    (`read_handover`).
    ByteTrack can pass an id to a skater with no overlap at all, so the first sighting is not always the
    target's: on the 5-minute seed-3 game a track read "1", went out of the jersey colour for 6 s, then read
    "4", and its shift started at the "1". (A couple of misreads are no such proof: a true target misread
    "18" before its first "19" would start late; hence PLAIN_HANDOVER_FACTOR.)"""
    recoloured = None if tr.off_colour_t is None else tr.off_colour_t + interval_s
    changed = None if tr.lab is None else colour_changed_at(tr.labs, tr.lab, OFF_COLOUR_MIN_S)
    marks = (tr.since, recoloured, changed, read_handover(tr, threshold))
    return max((x for x in marks if x is not None), default=None)


def read_handover(tr: TrackIdentity, threshold: float) -> float | None:
    """Midway between the first read of the track's run of target evidence (`strongest_suffix`) and the read
    before it, when the reads before that run plainly show another player (`plain_other`)."""
    start = strongest_suffix(tr.reads)
    if not start or not plain_other(tr.reads[:start], threshold):  # None, or 0: no reads before the run
        return None
    return (tr.reads[start - 1][0] + tr.reads[start][0]) / 2


def plain_other(reads: list[Read], threshold: float, supersets: bool = False) -> bool:
    """Reads that plainly show another player: worth PLAIN_HANDOVER_FACTOR thresholds against the target and,
    unless `supersets`, none of them a superset (a #14 read "14", then "4": the same skater showing more or less
    of his number)."""
    if not supersets and any(kind == ReadKind.superset.value for _, _, kind in reads):
        return False
    return sum(w for _, w, _ in reads) <= -PLAIN_HANDOVER_FACTOR * threshold + EPS


def surely_target(reads: list[Read], threshold: float) -> bool:
    """Whether reads of the target at SURE_CONF or more are worth vote_threshold among `reads`: the target himself
    wore the id then, for no other number is read that surely (a #14 with his "1" hidden reads "4" at 0.5-0.85).
    A read's weight is its confidence exactly when it is sure (`record_read` discounts only the others)."""
    return sum(w for _, w, kind in reads if kind == ReadKind.full.value and w >= SURE_CONF - EPS) >= threshold - EPS


def split_time(tr: TrackIdentity, threshold: float, gate: Callable[[Lab], float]) -> float | None:
    """For a track that just lost the target identity: when it stopped following the target, if its
    colour changed under it (`recoloured_at`) or its reads show a clear hand-over (target reads worth
    vote_threshold, then only conflicting ones, with a crossing between or plainly: `plain_other`), else
    None (it probably never was the target). The track's evidence restarts from the hand-over.
    Superset reads ("14" for #4) after the target's count as another player only where the target's were sure
    (`surely_target`): on the 5-minute seed-9 game the target, read "4" at 0.9-0.97 for 11 s, left as a #14 took
    his id with no crossing, and the whole 11 s were retracted (TOI error 12.3 %)."""
    recoloured = recoloured_at(tr, threshold, gate)
    if recoloured is not None:
        tr.support, tr.partial, tr.superset, tr.conflict, tr.reads, tr.since = 0.0, 0.0, 0.0, 0.0, [], recoloured
        return recoloured
    after = trailing(tr.reads, None)
    before = tr.reads[: len(tr.reads) - len(after)]
    if not before or not after:
        return None
    sure = surely_target(before, threshold)
    if after[0][2] != ReadKind.conflict.value and not sure:
        return None  # "14" after doubtful "4"s: most likely one #14 showing his whole number, never the #4
    split = crossing_between(tr.crossings, before[-1][0] - CROSSING_SLACK_S, after[0][0])
    if split is None and plain_other(after, threshold, supersets=sure):
        split = (before[-1][0] + after[0][0]) / 2
    if split is None or sum(w for _, w, _ in before) < threshold:
        return None
    tr.support, tr.partial, tr.reads, tr.since = 0.0, 0.0, after, split
    tr.conflict = -sum(w for _, w, kind in after if kind == ReadKind.conflict.value)
    tr.superset = -sum(w for _, w, kind in after if kind == ReadKind.superset.value) / SUPERSET_WEIGHT
    return split


def recoloured_at(tr: TrackIdentity, threshold: float, gate: Callable[[Lab], float]) -> float | None:
    """For a track its own reads made the target (support worth vote_threshold) whose colour now fails the
    gate: when its torso samples started failing it (the id went to a skater of another colour there)."""
    if tr.color_score > 0.0 or tr.support < threshold:
        return None
    failing = 0
    for _, lab in reversed(tr.labs[-COLOR_SAMPLES:]):
        if gate(lab) > 0.0:
            break
        failing += 1
    return tr.labs[-failing][0] if failing else None


def trailing(reads: list[Read], kind: ReadKind | None) -> list[Read]:
    """The longest run at the end of `reads` of `kind` (None: of any kind but full)."""
    n = 0
    for _, _, k in reversed(reads):
        if (k == kind.value) if kind is not None else (k != ReadKind.full.value):
            n += 1
        else:
            break
    return reads[len(reads) - n :]


def strongest_suffix(reads: list[Read]) -> int | None:
    """Where the reads with the largest positive sum up to the latest begin (the latest such start on a tie), or
    None: the run of target evidence, which a lone misread inside does not end. On the 60-minute benchmark game
    the target took a #1's id with no crossing, was read "4" for 7 s, once "7", then "4" again: the run of
    trailing "4"s started at the "7", and so did his shift, 7.4 s late."""
    best, best_at, total = 0.0, None, 0.0
    for i in range(len(reads) - 1, -1, -1):
        total += reads[i][1]
        if total > best + EPS:
            best, best_at = total, i
    return best_at


def crossing_ids(tracks: list[TrackObs]) -> set[int]:
    """Tracks whose box overlaps another's by CROSSING_OVERLAP on this frame."""
    crossing: set[int] = set()
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            if overlap_of_smaller(a.box, b.box) >= CROSSING_OVERLAP:
                crossing |= {a.track_id, b.track_id}
    return crossing


def crossing_between(crossings: list[float], after: float, before: float) -> float | None:
    """The moment of the crossing between two reads (the middle of its overlapping frames), if any."""
    inside = [c for c in crossings if after - EPS <= c <= before + EPS]
    return (inside[0] + inside[-1]) / 2 if inside else None
