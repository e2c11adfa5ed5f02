"""Which track is the target player: tracklet-level jersey-number voting plus a colour gate.

In the spirit of Koshkina & Elder (2024): single-crop reads are unreliable, so each track
accumulates confidence-weighted votes and only the tracklet's net evidence decides. Reads of one number
in quick succession see one pose and count as about one view (POSE_S). On top of
that: seed clicks pin a track, and a new track appearing where the target was just lost inherits
the identity with reduced confidence until its own reads confirm it.

A tracker id can change hands when two skaters cross (the tracker swaps their ids), so each track
keeps a short history of its reads and of the moments its box overlapped another's: a run of target
reads after another number's, with a crossing in between, starts a new identity on that track
(`switched`); an identity lost to conflicting reads after a crossing ends at that crossing
(`split_time`) instead of being wholly disowned. Without a crossing, reads are just votes unless the change
is plain (PLAIN_HANDOVER_FACTOR): ByteTrack also passes ids where boxes never overlap.
"""

from __future__ import annotations

import enum
import math
import re

import msgspec

from shiftclipper_contracts.job_setup import SeedClick, Tuning

from .color import color_match, colour_changed_at
from .geometry import (
    Point,
    box_center,
    box_contains,
    cut_by_frame_edge,
    distance,
    foot_point,
    overlap_of_smaller,
    widen,
)
from .observations import Box, Lab, TrackObs
from .timeline import TimelineEntry

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
HOLD_FRACTION = 0.25
"""Hysteresis: noise in a true target's reads should not flip it in and out of identity."""
PIN_PRIOR = 2.0
"""A seed click is worth this many thresholds of votes: reads can still overturn a wrong click."""
RELINK_DECAY = 0.7
RELINK_MIN_CONF = 0.25
RELINK_RADIUS = (0.15, 0.35, 0.6)
"""Base radius, growth per second lost, cap (normalised units): skating plus camera pan."""
RELINK_HALF_LIFE_S = 2.0
"""The inherited confidence also halves for every this many seconds between the loss and the new track's first
sighting: the radius reaches its cap after 1.3 s, and then any skater of the team's colour who comes into view
is in reach. With RELINK_DECAY and RELINK_MIN_CONF, a firmly locked target is re-linked up to about 3 s after
it was lost; later, a track must earn the identity with its own reads. (On the 60 s benchmark game a skater
first seen 4.8 s after the target went off inherited it and carried the shift to the end of the video.)"""
RECHECK_FACTOR = 5.0
"""Tracks decided with a wide margin are still re-read, this many OCR intervals apart (id switches)."""
IDLE_GRACE = 2
"""OCR runs on a track that give no usable read (nothing legible, or below `ocr_min_conf`) before its reads
back off: a skater seen from behind or too small stays unreadable for a while, and re-reading it at the full
rate was 40 % of the OCR on the 5-minute benchmark game. Past the grace, each idle run doubles the interval,
up to RECHECK_FACTOR; a usable read or a crossing (the id may have changed hands) restores the full rate.
Tracks with net evidence for the target never back off: their reads decide the target."""
SUPERSET_WEIGHT = 5.0
"""A one-digit target ("4") read inside a two-digit number ("14") nearly proves another player: a #4 never
shows a second digit, while a #14 often shows only its "4" (the "1" folded away or turned from view). One
such read outweighs this many reads of the target number, and this evidence never fades (EVIDENCE_CAP
leaves it out): a track read "14" a few times is not the #4 for good, while a #4 survives a rare spurious
extra digit."""
REFUTE_MIN_CONF_FACTOR = 0.5
"""Reads that refute count from this fraction of `ocr_min_conf`: a superset read (a recogniser unsure of a
"14" still saw two digits, which a #4 does not have; a #14 is often read "14" at 0.3-0.45 and "4" at 0.8),
and any other number on a track whose identity is only inherited by re-linking (it never read the target:
a steady weak "13" is enough to stop following it)."""
READ_HISTORY = 48
"""Reads kept per track, (time, signed weight, kind), to find where its identity changed hands."""
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
number's, also drop the track's older evidence as a crossing would (`_switched`)."""
CROWD_MARGIN = 0.5
"""A track is crowded when another box comes within this many of its box widths, sideways: skaters close
0.2-0.5 box widths in a sampled frame, so one skipped frame could hide the whole overlap of a crossing. On the
5-minute seed-3 game, skipping frames beside a crossing lost a hand-over (a shift end 14 s late); margins of
0.25 to 1.0 all fixed it (1.0 skipping the fewest frames), 0.5 is the middle."""
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
shift. A steadily read target still locks on its second read (0.95 + 0.3 x 0.95 at the broadcast rate)."""
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
CLICK_WINDOW_S = 0.5
_EPS = 1e-6
_NUMBER = re.compile(r"^[0-9]{1,2}$")


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
    what lets reads alone show a hand-over to the target (`_switched`)."""
    last_vote: tuple[float, str] | None = None
    """Time and number of the latest read that voted (POSE_S)."""
    pinned: bool = False
    inherited: float = 0.0
    """Confidence inherited by re-linking; 0 once the track's own reads confirm it (or never relinked)."""
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


class Decision(msgspec.Struct, kw_only=True):
    track_id: int
    confidence: float


class VoterState(msgspec.Struct, kw_only=True):
    tracks: dict[int, TrackIdentity] = {}
    target_id: int | None = None
    target_conf: float = 0.0
    lost_t: float | None = None
    lost_foot: Point | None = None
    ocr_asked: dict[int, float] = {}
    clicks_done: list[int] = []
    click_best: dict[int, tuple[float, int]] = {}
    """Per pending click: (|dt|, track id) of the best frame seen so far inside its window."""


class IdentityVoter:
    """Per-track votes and colour; one decision per frame. All state lives in `state`."""

    def __init__(
        self,
        number: str,
        team_lab: Lab,
        opponent_lab: Lab | None,
        tuning: Tuning,
        seed_clicks: list[SeedClick] | None = None,
        state: VoterState | None = None,
    ) -> None:
        self.number = number
        self.team_lab = team_lab
        self.opponent_lab = opponent_lab
        self.tuning = tuning
        self.threshold = tuning.vote_threshold
        self.clicks = sorted(seed_clicks or [], key=lambda c: (c.t, c.x, c.y))
        self.state = state or VoterState()

    # -- queries -------------------------------------------------------------------------------

    def color_score(self, lab: Lab | None) -> float:
        if lab is None:
            return 0.0
        return color_match(lab, self.team_lab, self.opponent_lab, self.tuning.color_max_distance)

    def own_net(self, tr: TrackIdentity) -> float:
        """Net weighted votes from the track's own reads."""
        partial = min(PARTIAL_WEIGHT * tr.partial, PARTIAL_CAP * self.threshold)
        excess = PARTIAL_EXCESS_WEIGHT * max(0.0, tr.partial - PARTIAL_RATIO * tr.support - self.threshold)
        return tr.support + partial - tr.conflict - excess - SUPERSET_WEIGHT * tr.superset

    def is_locked(self, tr: TrackIdentity) -> bool:
        """Locks at `vote_threshold` net votes; once locked, holds down to HOLD_FRACTION of it."""
        net, prior = self.own_net(tr), self._prior(tr)
        if tr.color_score <= 0.0 or (tr.inherited > 0.0 and net < 0.0):
            return False  # an inherited identity goes at the first net conflict
        if tr.locked and net + prior > HOLD_FRACTION * self.threshold:
            return True
        return (tr.support > 0.0 or prior > 0.0) and net + prior >= self.threshold - _EPS

    def confidence(self, tr: TrackIdentity) -> float:
        """0..1 that this track is the target; 0 when not locked."""
        if not self.is_locked(tr):
            return 0.0
        effective = self.own_net(tr) + self._prior(tr)
        conf = min(1.0, max(0.25, 0.5 + 0.5 * (effective - self.threshold) / self.threshold))
        if tr.inherited > 0.0:
            conf = min(conf, tr.inherited)
        return conf * (0.8 + 0.2 * tr.color_score)

    def needs_read(self, track_id: int, t: float, torso_lab: Lab | None = None, box: Box | None = None) -> bool:
        """Whether OCR on this track now can change a decision. A True answer is taken as a promise
        that OCR runs (so a crop that yields no text is not re-read every frame). `box`: where the track is
        now; a box cut by the frame's side is not read (`_observe_track`)."""
        if box is not None and cut_by_frame_edge(box):
            return False
        tr = self.state.tracks.get(track_id)
        if tr is not None and tr.lab is not None:
            if tr.color_score <= 0.0:
                return False
        elif torso_lab is not None and self.color_score(torso_lab) <= 0.0:
            return False
        interval = self.tuning.ocr_interval_s
        if tr is not None and self.settled(tr):
            interval *= RECHECK_FACTOR
        elif tr is not None and self._backs_off(tr):
            interval *= min(RECHECK_FACTOR, 2.0 ** (tr.idle_reads - IDLE_GRACE))
        last = max(self.state.ocr_asked.get(track_id, -math.inf), _or_inf(tr.last_read_t if tr else None))
        if t - last < interval - _EPS:
            return False
        self.state.ocr_asked[track_id] = t
        return True

    def settled(self, tr: TrackIdentity) -> bool:
        """Decided by a wide margin, not crossed by another skater since its last read and not contradicted
        by that read. Ids swap only at crossings, so a crossed or contradicted track is read at the full rate
        until its reads say who it follows now."""
        crossed = self._crossed_since_read(tr)
        disputed = bool(tr.reads) and (tr.reads[-1][1] > 0) != (self.own_net(tr) > 0)
        return not crossed and not disputed and self._decided(tr)

    def searching_at(self, t: float) -> bool:
        """Whether a track seen at `t` in the jersey colour still matters for the next frame: its identity is
        open (neither decided either way nor backing off, see `needs_read`) or another skater is beside it
        (the target may take its id there)."""
        return any(
            tr.last_t == t
            and tr.color_score > 0.0
            and ((not self._decided(tr) and not self._backs_off(tr)) or self.crowded(i, t))
            for i, tr in self.state.tracks.items()
        )

    def crowded(self, track_id: int, t: float) -> bool:
        """Whether another track seen at `t` comes within CROWD_MARGIN box widths of this one's box: a crossing
        (where ids can change hands) may be about to start, so every frame counts."""
        tr = self.state.tracks.get(track_id)
        if tr is None:
            return False
        near = widen(tr.box, CROWD_MARGIN)
        return any(
            i != track_id and other.last_t == t and overlap_of_smaller(near, other.box) > 0.0
            for i, other in self.state.tracks.items()
        )

    def _backs_off(self, tr: TrackIdentity) -> bool:
        """Unreadable for a while, with no evidence for the target (a track that has some is where reads
        matter most) and not crossed since its last read."""
        return tr.idle_reads > IDLE_GRACE and self.own_net(tr) <= 0.0 and not self._crossed_since_read(tr)

    @staticmethod
    def _crossed_since_read(tr: TrackIdentity) -> bool:
        return bool(tr.crossings) and tr.crossings[-1] >= _or_inf(tr.last_read_t)

    def _decided(self, tr: TrackIdentity) -> bool:
        net = self.own_net(tr)
        return net >= 2 * self.threshold or net <= -self.threshold

    def _prior(self, tr: TrackIdentity) -> float:
        if tr.pinned:
            return PIN_PRIOR * self.threshold
        return self.threshold if tr.inherited > 0.0 else 0.0

    # -- per frame -----------------------------------------------------------------------------

    def observe(self, t: float, tracks: list[TrackObs]) -> tuple[Decision | None, list[TimelineEntry]]:
        """Fold one frame's (rink-filtered) tracks in; return the target decision and events."""
        log: list[TimelineEntry] = []
        crossing = _crossing_ids(tracks)
        for obs in sorted(tracks, key=lambda o: o.track_id):
            self._observe_track(t, obs, obs.track_id in crossing, log)
        present = {o.track_id for o in tracks}
        for track_id in crossing:
            tr = self.state.tracks[track_id]
            tr.crossings = [*tr.crossings[-(CROSSINGS_KEPT - 1) :], t]
        self._apply_clicks(t, tracks, log)
        self._relink(t, present, log)
        self._update_locks(t, present, log)
        decision = self._decide(present)
        self._remember_target(t, decision, present, log)
        self._prune(t)
        return decision, log

    def _observe_track(self, t: float, obs: TrackObs, crossing: bool, log: list[TimelineEntry]) -> None:
        tr = self.state.tracks.get(obs.track_id)
        if tr is None:
            tr = TrackIdentity(track_id=obs.track_id, first_t=t, first_foot=foot_point(obs.box), last_t=t, box=obs.box)
            self.state.tracks[obs.track_id] = tr
        tr.last_t, tr.box = t, obs.box
        if obs.torso_lab is not None:
            tr.labs = [*tr.labs[-(COLOUR_HISTORY - 1) :], (t, obs.torso_lab)]
            tr.lab = _median([lab for _, lab in tr.labs[-COLOR_SAMPLES:]])
            tr.color_score = self.color_score(tr.lab)
            if tr.color_score > 0.0:
                tr.off_colour_since = None
            elif tr.off_colour_since is None:
                tr.off_colour_since = t
            if tr.off_colour_since is not None and t - tr.off_colour_since >= OFF_COLOUR_MIN_S - _EPS:
                tr.off_colour_t = t
        used = False
        # A skater running out of the frame's side shows part of his number: a #14 cut at the left border
        # reads "4" (three times at 0.54-0.66 in 4 s on the 5-minute seed-2 game). Such reads are not votes.
        if obs.read is not None and not cut_by_frame_edge(obs.box):
            tr.last_read_t = t
            floor = self.tuning.ocr_min_conf
            number = obs.read.number.strip()
            kind = classify_read(number, self.number)
            # two skaters in one crop: their numbers side by side ("41") are no superset
            two_in_one = kind is ReadKind.superset and crossing
            if kind is ReadKind.superset or (kind is ReadKind.conflict and tr.inherited > 0.0 and not tr.support):
                floor *= REFUTE_MIN_CONF_FACTOR
            used = obs.read.confidence >= floor and not two_in_one
            if used:
                self._vote(tr, t, number, kind, obs.read.confidence, log)
        if used:
            tr.idle_reads = 0
        elif self.state.ocr_asked.get(obs.track_id) == t:  # OCR ran on it this frame and gave nothing usable
            tr.idle_reads += 1

    def _vote(
        self, tr: TrackIdentity, t: float, number: str, kind: ReadKind, conf: float, log: list[TimelineEntry]
    ) -> None:
        assured = conf >= DOUBT_CONF
        if kind is ReadKind.full and len(self.number) == 1 and not assured and not tr.inherited:
            conf *= DOUBT_WEIGHT  # maybe a two-digit number with a digit dropped (DOUBT_CONF)
        if tr.last_vote is not None and tr.last_vote[1] == number:
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
        if kind is ReadKind.full and self._switched(tr):
            note = f"id changed hands about {tr.since:g}s"
            log.append(TimelineEntry(t=t, kind="switched", track_id=tr.track_id, note=note))
        largest = max(tr.support, tr.partial, tr.conflict)
        if largest > EVIDENCE_CAP * self.threshold:
            scale = EVIDENCE_CAP * self.threshold / largest
            tr.support, tr.partial, tr.conflict = tr.support * scale, tr.partial * scale, tr.conflict * scale
        if tr.inherited > 0.0 and self.own_net(tr) >= self.threshold and tr.support > 0.0:
            tr.inherited = 0.0  # confirmed by its own reads

    def _switched(self, tr: TrackIdentity) -> bool:
        """Whether the track's latest reads say it now follows the target after following someone else;
        if so, only those reads count from now on. The change is placed at a crossing between the two runs of
        reads, or, where the target's run holds reads worth PLAIN_HANDOVER_FACTOR thresholds at DOUBT_CONF or more
        (`assured`), midway between them: ByteTrack also passes ids with no overlap, and a #14's superset reads,
        which never fade, would otherwise keep the target from that id for good (the 5-minute seed-6 game)."""
        suffix = _trailing(tr.reads, ReadKind.full)
        before = tr.reads[: len(tr.reads) - len(suffix)]
        if not before or before[-1][2] != ReadKind.conflict.value or len(suffix) < SWITCH_MIN_READS:
            return False  # a superset read just before ("14" for 4) is the same player, not a hand-over
        gained = sum(w for _, w, _ in suffix)
        if gained < SWITCH_FACTOR * self.threshold or sum(w for _, w, _ in before) > -self.threshold:
            return False  # one stray misread before is noise, not another player's established identity
        crossed = _crossing_between(tr.crossings, before[-1][0] - CROSSING_SLACK_S, suffix[0][0])
        if crossed is None and tr.assured >= PLAIN_HANDOVER_FACTOR * self.threshold - _EPS:
            crossed = (before[-1][0] + suffix[0][0]) / 2
        if crossed is None:
            return False
        tr.support, tr.partial, tr.conflict, tr.superset = gained, 0.0, 0.0, 0.0
        tr.reads, tr.since = suffix, crossed
        return True

    def wearer_since(self, track_id: int, interval_s: float) -> float | None:
        """For a track that just became the target: when its current wearer took the id, as far as the track
        shows, or None (from its first sighting). Four marks, the latest wins: where its reads showed a hand-over
        (`since`: a crossing, or midway between two plain runs, `_switched`); the frame (`interval_s`) after its
        latest run of OFF_COLOUR_MIN_S or more out of the jersey colour; a change from another colour to its current one
        (`colour_changed_at`: the jersey gate is loose, so a first wearer may pass it); and a plain change of reads
        (`_read_handover`).
        ByteTrack can pass an id to a skater with no overlap at all, so the first sighting is not always the
        target's: on the 5-minute seed-3 game a track read "1", went out of the jersey colour for 6 s, then read
        "4", and its shift started at the "1". (A couple of misreads are no such proof: a true target misread
        "18" before its first "19" would start late; hence PLAIN_HANDOVER_FACTOR.)"""
        tr = self.state.tracks.get(track_id)
        if tr is None:
            return None
        recoloured = None if tr.off_colour_t is None else tr.off_colour_t + interval_s
        changed = None if tr.lab is None else colour_changed_at(tr.labs, tr.lab, OFF_COLOUR_MIN_S)
        marks = (tr.since, recoloured, changed, self._read_handover(tr))
        return max((x for x in marks if x is not None), default=None)

    def _read_handover(self, tr: TrackIdentity) -> float | None:
        """Midway between the first read of the track's run of target evidence (`_strongest_suffix`) and the read
        before it, when the reads before that run plainly show another player (`_plain_other`)."""
        start = _strongest_suffix(tr.reads)
        if not start or not self._plain_other(tr.reads[:start]):  # None, or 0: no reads before the run
            return None
        return (tr.reads[start - 1][0] + tr.reads[start][0]) / 2

    def _plain_other(self, reads: list[tuple[float, float, str]]) -> bool:
        """Reads that plainly show another player: worth PLAIN_HANDOVER_FACTOR thresholds against the target and
        none of them a superset (a #14 read "14", then "4": the same skater showing more or less of his number)."""
        if any(kind == ReadKind.superset.value for _, _, kind in reads):
            return False
        return sum(w for _, w, _ in reads) <= -PLAIN_HANDOVER_FACTOR * self.threshold + _EPS

    def split_time(self, track_id: int) -> float | None:
        """For a track that just lost the target identity: when it stopped following the target, if its
        colour changed under it (`_recoloured_at`) or its reads show a clear hand-over (target reads worth
        vote_threshold, then only conflicting ones, with a crossing between or plainly: `_plain_other`), else
        None (it probably never was the target). The track's evidence restarts from the hand-over."""
        tr = self.state.tracks.get(track_id)
        if tr is None:
            return None
        recoloured = self._recoloured_at(tr)
        if recoloured is not None:
            tr.support, tr.partial, tr.superset, tr.conflict, tr.reads, tr.since = 0.0, 0.0, 0.0, 0.0, [], recoloured
            return recoloured
        after = _trailing(tr.reads, None)
        before = tr.reads[: len(tr.reads) - len(after)]
        if not before or not after or after[0][2] != ReadKind.conflict.value:
            return None  # a superset read ("19" after "9"s) is the same player showing his whole number
        split = _crossing_between(tr.crossings, before[-1][0] - CROSSING_SLACK_S, after[0][0])
        if split is None and self._plain_other(after):
            split = (before[-1][0] + after[0][0]) / 2
        if split is None or sum(w for _, w, _ in before) < self.threshold:
            return None
        tr.support, tr.partial, tr.superset, tr.reads, tr.since = 0.0, 0.0, 0.0, after, split
        tr.conflict = -sum(w for _, w, _ in after)
        return split

    def _recoloured_at(self, tr: TrackIdentity) -> float | None:
        """For a track its own reads made the target (support worth vote_threshold) whose colour now fails the
        gate: when its torso samples started failing it (the id went to a skater of another colour there)."""
        if tr.color_score > 0.0 or tr.support < self.threshold:
            return None
        failing = 0
        for _, lab in reversed(tr.labs[-COLOR_SAMPLES:]):
            if self.color_score(lab) > 0.0:
                break
            failing += 1
        return tr.labs[-failing][0] if failing else None

    def _apply_clicks(self, t: float, tracks: list[TrackObs], log: list[TimelineEntry]) -> None:
        st = self.state
        for i, click in enumerate(self.clicks):
            if i in st.clicks_done or t < click.t - CLICK_WINDOW_S:
                continue
            hit = _click_target(tracks, click.x, click.y) if t <= click.t + CLICK_WINDOW_S else None
            best = st.click_best.get(i)
            if hit is not None and (best is None or abs(t - click.t) < best[0]):
                best = (abs(t - click.t), hit)
                st.click_best[i] = best
            if t >= click.t and (best is not None or t > click.t + CLICK_WINDOW_S):
                st.clicks_done.append(i)
                st.click_best.pop(i, None)
                if best is not None and best[1] in st.tracks:
                    st.tracks[best[1]].pinned = True
                    log.append(TimelineEntry(t=t, kind="pinned", track_id=best[1], note=f"click at {click.t:g}s"))

    def _relink(self, t: float, present: set[int], log: list[TimelineEntry]) -> None:
        st = self.state
        if st.lost_t is None or st.lost_foot is None or t - st.lost_t > self.tuning.lost_timeout_s:
            return
        if any(self.is_locked(st.tracks[i]) for i in present):
            return
        best: tuple[float, int, float] | None = None
        for i in sorted(present):
            tr = st.tracks[i]
            if tr.first_t <= st.lost_t or tr.color_score <= 0.0 or self.own_net(tr) < 0.0:
                continue
            gap = tr.first_t - st.lost_t
            inherit = st.target_conf * RELINK_DECAY * 0.5 ** (gap / RELINK_HALF_LIFE_S)
            d = distance(tr.first_foot, st.lost_foot)
            base, per_s, cap = RELINK_RADIUS
            if inherit >= RELINK_MIN_CONF and d <= min(cap, base + per_s * gap) and (best is None or d < best[0]):
                best = (d, i, inherit)
        if best is not None:
            _, i, inherit = best
            st.tracks[i].inherited = inherit
            st.ocr_asked.pop(i, None)  # due for a read at once: its own number confirms or refutes
            note = f"from track {st.target_id}"
            log.append(TimelineEntry(t=t, kind="relinked", track_id=i, confidence=round(inherit, 3), note=note))

    def _update_locks(self, t: float, present: set[int], log: list[TimelineEntry]) -> None:
        for i in sorted(present):
            tr = self.state.tracks[i]
            locked = self.is_locked(tr)
            if locked != tr.locked:
                tr.locked = locked
                if not locked and i == self.state.target_id:
                    self.state.target_id = None  # a revoked identity is not passed on by re-linking
                kind = "locked" if locked else "unlocked"
                log.append(TimelineEntry(t=t, kind=kind, track_id=i, confidence=round(self.confidence(tr), 3)))

    def _decide(self, present: set[int]) -> Decision | None:
        best: tuple[float, bool, int] | None = None
        for i in sorted(present):
            conf = self.confidence(self.state.tracks[i])
            if conf <= 0.0:
                continue
            key = (conf, i == self.state.target_id, -i)
            if best is None or key > best:
                best = key
        return None if best is None else Decision(track_id=-best[2], confidence=best[0])

    def _remember_target(self, t: float, decision: Decision | None, present: set[int], log: list) -> None:
        st = self.state
        if decision is not None:
            st.target_id, st.target_conf = decision.track_id, decision.confidence
            st.lost_t = st.lost_foot = None
            return
        if st.target_id is None:
            return
        target = st.tracks.get(st.target_id)
        if st.lost_t is None and target is not None:
            st.lost_t, st.lost_foot = target.last_t, foot_point(target.box)
        if st.lost_t is not None and t - st.lost_t > self.tuning.lost_timeout_s:
            note = f"last target sighting {st.lost_t:g}s"
            log.append(TimelineEntry(t=t, kind="lost", track_id=st.target_id, note=note))
            st.target_id, st.lost_t, st.lost_foot = None, None, None

    def _prune(self, t: float) -> None:
        horizon = max(self.tuning.lost_timeout_s, 5.0) + 5.0
        st = self.state
        for i in [i for i, tr in st.tracks.items() if t - tr.last_t > horizon]:
            del st.tracks[i]
        for i in [i for i, asked in st.ocr_asked.items() if t - asked > horizon]:
            del st.ocr_asked[i]


def _trailing(reads: list[tuple[float, float, str]], kind: ReadKind | None) -> list[tuple[float, float, str]]:
    """The longest run at the end of `reads` of `kind` (None: of any kind but full)."""
    n = 0
    for _, _, k in reversed(reads):
        if (k == kind.value) if kind is not None else (k != ReadKind.full.value):
            n += 1
        else:
            break
    return reads[len(reads) - n :]


def _strongest_suffix(reads: list[tuple[float, float, str]]) -> int | None:
    """Where the reads with the largest positive sum up to the latest begin (the latest such start on a tie), or
    None: the run of target evidence, which a lone misread inside does not end. On the 60-minute benchmark game
    the target took a #1's id with no crossing, was read "4" for 7 s, once "7", then "4" again: the run of
    trailing "4"s started at the "7", and so did his shift, 7.4 s late."""
    best, best_at, total = 0.0, None, 0.0
    for i in range(len(reads) - 1, -1, -1):
        total += reads[i][1]
        if total > best + _EPS:
            best, best_at = total, i
    return best_at


def _crossing_ids(tracks: list[TrackObs]) -> set[int]:
    """Tracks whose box overlaps another's by CROSSING_OVERLAP on this frame."""
    crossing: set[int] = set()
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            if overlap_of_smaller(a.box, b.box) >= CROSSING_OVERLAP:
                crossing |= {a.track_id, b.track_id}
    return crossing


def _crossing_between(crossings: list[float], after: float, before: float) -> float | None:
    """The moment of the crossing between two reads (the middle of its overlapping frames), if any."""
    inside = [c for c in crossings if after - _EPS <= c <= before + _EPS]
    return (inside[0] + inside[-1]) / 2 if inside else None


def _click_target(tracks: list[TrackObs], x: float, y: float) -> int | None:
    """The track whose box contains the click; the nearest box centre when several do."""
    hits = [(distance(box_center(o.box), (x, y)), o.track_id) for o in tracks if box_contains(o.box, x, y)]
    return min(hits)[1] if hits else None


def _median(labs: list[Lab]) -> Lab:
    """Per-channel median (the lower middle of an even count: a real sample, never an average)."""
    mid = (len(labs) - 1) // 2
    l_, a, b = (sorted(channel)[mid] for channel in zip(*labs, strict=True))
    return (l_, a, b)


def _or_inf(value: float | None) -> float:
    return -math.inf if value is None else value
