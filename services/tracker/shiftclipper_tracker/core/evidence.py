"""What one track's observations say about the target: the kind and weight of each jersey-number read, the
per-track sums they add to, and the track's colour history.

In the spirit of Koshkina & Elder (2024): single-crop reads are unreliable, so each track accumulates
confidence-weighted votes and only the tracklet's net evidence (`net_votes`) decides. Reads of one number in
quick succession see one pose and count as about one view (POSE_S). The voter (`identity.py`) turns these
per-track records into one decision a frame; `handover.py` reads them to find where an id changed hands.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

import msgspec

from .geometry import Point
from .observations import Box, Lab

PARTIAL_WEIGHT = 0.3
"""A lone digit of a two-digit target ("9" for 19) may be the number half-hidden by a fold or a turn."""
PARTIAL_CAP = 0.25
"""...but partial support is capped (x vote_threshold) so teammate #9 can never lock as #19 on it."""
PARTIAL_RATIO = 3.0
PARTIAL_EXCESS_WEIGHT = 0.5
"""Lone-digit reads beyond PARTIAL_RATIO x the full reads (plus one threshold of grace) count against:
a track that reads "9" far more often than "19" most likely wears 9 (a real 19 shows "19" at times)."""
EVIDENCE_CAP = 5.0
"""When a track's largest evidence sum passes this (x vote_threshold), all its sums are scaled down
together: ratios are kept while old evidence fades, so a tracker id switch can be outvoted. With reads
counted per pose (POSE_S), other numbers outvote a capped target in a few seconds of reads; at 10, a target
whose id passed to a #5 with no crossing on the 5-minute seed-2 game kept its shift 13 s past its end."""
SUPERSET_WEIGHT = 5.0
"""A one-digit target ("4") read inside a two-digit number ("14") nearly proves another player: a #4 never
shows a second digit, while a #14 often shows only its "4" (the "1" folded away or turned from view). One
such read outweighs this many reads of the target number, and this evidence never fades (EVIDENCE_CAP
leaves it out): a track read "14" a few times is not the #4 for good, while a #4 survives a rare spurious
extra digit."""
READ_HISTORY = 48
"""Reads kept per track, (time, signed weight, kind), to find where its identity changed hands."""
COLOR_SAMPLES = 7
"""A track's colour is the per-channel median of its last this many torso samples: a skater passing in front
(often merged into one box with it, so no overlap shows) spoils a few samples, which a median ignores and an
average does not (with the hue gate, an average flipped the target to "another team" mid-shift and lost 18 s
of it); a real change of wearer wins after half of them."""
COLOUR_HISTORY = 50
"""Torso samples kept per track (5 s at the broadcast detect rate): how far back `wearer_since` can see a change of
colour (`colour_changed_at`)."""
OFF_COLOUR_MIN_S = 1.0
"""A track whose colour fails the gate, or leaves its current colour (`colour_changed_at`), for this long was worn
by someone else (`wearer_since`); shorter runs are a skater passing in front or the light (the practice close-up's
#19 failed for 0.3 s)."""
POSE_S = 1.0
"""Reads of one number on one track within this long of each other mostly see the same pose of the same crop, so
they are not independent evidence: a repeat counts in proportion to the time since the previous read (the first
of a run, or a read of another number, counts whole). On the 5-minute seed-2 game a #14 held one pose with his
"1" hidden for 2 s and was read "4" seven times at 0.59-0.85: that outweighed his "14" read and made a 16 s false
shift. A steadily read target still locks on its second read (0.95 + 0.95: SURE_CONF)."""
SURE_CONF = 0.9
"""Repeats read at this confidence or more count whole, not as one pose (POSE_S): on the labelled NHL crops no wrong
number is read that confidently (`tests/unit/test_ocr.py`), so each such read is evidence on its own. On the 60 s
seed-1 game at 1080p the target, on a track that another skater had worn, was read "4" at 0.86, 0.95 and 0.94 within
0.6 s; counted as one pose (1.43) against that skater's "7" at 0.56 they stayed under `vote_threshold` (1.2), and his
shift ended 4.3 s early (TOI error 15.9 %, 1.5 % with this rule)."""
DOUBT_CONF = 0.8
DOUBT_WEIGHT = 0.5
"""A one-digit target's number read below DOUBT_CONF counts DOUBT_WEIGHT of its confidence, unless the track
inherited the identity by re-linking (where it appeared says who it is): the recogniser's commonest error is a
dropped digit, and a #14's dropped digit reads exactly "4". On the labelled NHL crops
(`bench/ocr_accuracy.py --errors`), 13 of the 25 wrong reads at 0.5-0.8 were a two-digit number read as one of
its digits, and none of the wrong reads at 0.8 or more. On the 60-minute benchmark game the #14's false locks
rested on 1-2 s of "4" reads at 0.58-0.73; counted at 0.6, they need about 2.5 s of them (precision 0.73 -> 0.90),
at 0.5 about 3 s: the 5-minute seed-6 and seed-7 games each lost a shift's TOI to a #14 locked on 2-3 s of "4"s
at 0.51-0.70 at 0.6 (docs/benchmarks.md, session 14). The price: a target whose own crops read that weakly
locks later or not at all (seed 4). DOUBT_WEIGHT stands for the precision of a one-digit read relative to a
two-digit read of the same confidence: `bench/ocr_accuracy.py` prints it per band (0.55-0.57 at 0.5-0.8 in
session 11, from only 46 and 26 crops; 0.40 below 0.5), so 0.5 is within what the labelled crops support."""
EPS = 1e-6
"""Slack for sums of confidences compared with multiples of the vote threshold."""
_NUMBER = re.compile(r"^[0-9]{1,2}$")

Read = tuple[float, float, str]
"""(time, +confidence for the target / -weight otherwise, ReadKind value)."""


class ReadKind(enum.Enum):
    full = "full"
    partial = "partial"
    conflict = "conflict"
    superset = "superset"
    ignore = "ignore"


def classify_read(read: str, target: str) -> ReadKind:
    """How one read bears on the target number (both strings of digits)."""
    if not _NUMBER.match(read):
        return ReadKind.ignore
    if read == target:
        return ReadKind.full
    if len(target) == 2 and len(read) == 1 and read in target:
        return ReadKind.partial
    if len(target) == 1 and len(read) == 2 and target in read:
        return ReadKind.superset
    return ReadKind.conflict


class TrackIdentity(msgspec.Struct, kw_only=True):
    track_id: int
    first_t: float
    first_foot: Point
    last_t: float
    box: Box
    lab: Lab | None = None
    """Median of `labs`: the colour the gate judges."""
    labs: list[tuple[float, Lab]] = []
    """The latest torso samples (COLOUR_HISTORY), with their times."""
    color_score: float = 0.0
    support: float = 0.0
    """Confidence sums of full reads of the target, lone-digit (partial) reads, and other numbers."""
    partial: float = 0.0
    conflict: float = 0.0
    superset: float = 0.0
    """Confidence sum of reads of a longer number containing a one-digit target (never scaled down)."""
    last_read_t: float | None = None
    assured: float = 0.0
    """Weight of the trailing run of target reads at DOUBT_CONF or more (a conflicting or superset read ends it):
    what lets reads alone show a hand-over to the target (`handover.switched`)."""
    last_vote: tuple[float, str] | None = None
    """Time and number of the latest read that voted (POSE_S)."""
    pinned: bool = False
    inherited: float = 0.0
    """Confidence inherited by re-linking; 0 once the track's own reads confirm it, once it unlocks (its reads
    refuted it), or if never re-linked. Kept past a refutation, the inherited prior (a whole `vote_threshold`) came
    back as soon as the net votes were positive again: on the 5-minute seed-14 game a #14 re-linked where the #4
    went off, refuted by a "1", then relocked on 1.4 s of "4"s at 0.59-0.83 and stretched a true shift by 7 s."""
    locked: bool = False
    reads: list[tuple[float, float, str]] = []
    """The latest reads that bear on identity: (time, +conf for the target / -weight otherwise, ReadKind)."""
    since: float | None = None
    """When the current identity of this track began, if its id changed hands; None: at `first_t`."""
    crossings: list[float] = []
    """Latest times its box overlapped another track's (CROSSING_OVERLAP)."""
    idle_reads: int = 0
    """OCR runs in a row that gave no usable read (IDLE_GRACE)."""
    off_colour_since: float | None = None
    """Start of the run of frames its colour has been failing the gate; None while it passes."""
    off_colour_t: float | None = None
    """The latest time in a run of at least OFF_COLOUR_MIN_S out of the jersey colour: someone else wore the id."""


def net_votes(tr: TrackIdentity, threshold: float) -> float:
    """Net weighted votes from the track's own reads."""
    partial = min(PARTIAL_WEIGHT * tr.partial, PARTIAL_CAP * threshold)
    excess = PARTIAL_EXCESS_WEIGHT * max(0.0, tr.partial - PARTIAL_RATIO * tr.support - threshold)
    return tr.support + partial - tr.conflict - excess - SUPERSET_WEIGHT * tr.superset


def record_read(tr: TrackIdentity, t: float, number: str, kind: ReadKind, conf: float, target: str) -> None:
    """Add one usable read of `number` (of `kind` against the `target` number) to the track's sums and history."""
    assured, sure = conf >= DOUBT_CONF, conf >= SURE_CONF
    if kind is ReadKind.full and len(target) == 1 and not assured and not tr.inherited:
        conf *= DOUBT_WEIGHT  # maybe a two-digit number with a digit dropped (DOUBT_CONF)
    if tr.last_vote is not None and tr.last_vote[1] == number and not sure:
        conf *= min(1.0, max(0.0, t - tr.last_vote[0]) / POSE_S)  # a repeat of the same pose (POSE_S)
    tr.last_vote = (t, number)
    if kind in (ReadKind.conflict, ReadKind.superset):
        tr.assured = 0.0
    elif kind is ReadKind.full and assured:
        tr.assured += conf
    if kind is ReadKind.full:
        tr.support += conf
    elif kind is ReadKind.partial:
        tr.partial += conf
    elif kind is ReadKind.conflict:
        tr.conflict += conf
    elif kind is ReadKind.superset:
        tr.superset += conf
    if kind in (ReadKind.full, ReadKind.conflict, ReadKind.superset):
        signed = conf if kind is ReadKind.full else -conf * (SUPERSET_WEIGHT if kind is ReadKind.superset else 1)
        tr.reads = [*tr.reads[-(READ_HISTORY - 1) :], (t, signed, kind.value)]


def cap_evidence(tr: TrackIdentity, threshold: float) -> None:
    """Scale the fading sums down together once the largest passes EVIDENCE_CAP thresholds."""
    largest = max(tr.support, tr.partial, tr.conflict)
    if largest > EVIDENCE_CAP * threshold:
        scale = EVIDENCE_CAP * threshold / largest
        tr.support, tr.partial, tr.conflict = tr.support * scale, tr.partial * scale, tr.conflict * scale


def record_colour(tr: TrackIdentity, t: float, lab: Lab, gate: Callable[[Lab], float]) -> None:
    """Add one torso sample: the track's colour becomes the median of its latest samples, judged by `gate`."""
    tr.labs = [*tr.labs[-(COLOUR_HISTORY - 1) :], (t, lab)]
    tr.lab = _median([lab for _, lab in tr.labs[-COLOR_SAMPLES:]])
    tr.color_score = gate(tr.lab)
    if tr.color_score > 0.0:
        tr.off_colour_since = None
    elif tr.off_colour_since is None:
        tr.off_colour_since = t
    if tr.off_colour_since is not None and t - tr.off_colour_since >= OFF_COLOUR_MIN_S - EPS:
        tr.off_colour_t = t


def _median(labs: list[Lab]) -> Lab:
    """Per-channel median (the lower middle of an even count: a real sample, never an average)."""
    mid = (len(labs) - 1) // 2
    l_, a, b = (sorted(channel)[mid] for channel in zip(*labs, strict=True))
    return (l_, a, b)
