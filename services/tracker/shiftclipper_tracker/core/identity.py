"""Which track is the target player: one decision a frame from every track's evidence (`evidence.py`), the
jersey-colour gate and the hand-overs of tracker ids (`handover.py`).

A track locks as the target at `vote_threshold` net votes of its own reads and holds with hysteresis. On top
of that: seed clicks pin a track, and a new track appearing where the target was just lost inherits the
identity with reduced confidence until its own reads confirm it. The voter also says where OCR is worth running
(`needs_read`) and where every frame matters (`crowded`, `searching_at`).
"""

from __future__ import annotations

import math

import msgspec

from shiftclipper_contracts.job_setup import SeedClick, Tuning

from . import handover
from .color import color_match
from .evidence import (
    EPS,
    ReadKind,
    TrackIdentity,
    cap_evidence,
    classify_read,
    net_votes,
    record_colour,
    record_read,
)
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
from .handover import CROSSINGS_KEPT, crossing_ids
from .observations import Box, Lab, TrackObs
from .timeline import TimelineEntry

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
REFUTE_MIN_CONF_FACTOR = 0.5
"""Reads that refute count from this fraction of `ocr_min_conf`: a superset read (a recogniser unsure of a
"14" still saw two digits, which a #4 does not have; a #14 is often read "14" at 0.3-0.45 and "4" at 0.8),
and any other number on a track whose identity is only inherited by re-linking (it never read the target:
a steady weak "13" is enough to stop following it)."""
CROWD_MARGIN = 0.5
"""A track is crowded when another box comes within this many of its box widths, sideways: skaters close
0.2-0.5 box widths in a sampled frame, so one skipped frame could hide the whole overlap of a crossing. On the
5-minute seed-3 game, skipping frames beside a crossing lost a hand-over (a shift end 14 s late); margins of
0.25 to 1.0 all fixed it (1.0 skipping the fewest frames), 0.5 is the middle."""
CLICK_WINDOW_S = 0.5
RESUME_RADIUS = 0.1
"""A new track that starts within this distance (normalised) of where a track not locked as the target was lost,
within `lost_timeout_s` before, and nearer to it than to where the target was lost, is that skater's track again
(the detector missed him for a few frames) and is not re-linked. Any colour: the gate may have judged his earlier
samples otherwise. On the 5-minute seed-15 game a standing skater's track, lost at 161.9 s and found again at 166.7 s
0.025 from where it was, inherited the #4's identity lost at 164.5 s, 0.17 away, and stretched his shift
by 4 s (TOI 3.6 % -> 1.5 % with the rule; seed 7 2.9 -> 0.2 %, seed 10 12.9 -> 9.6 %, the hour 0.4 -> 0.3 %, the
others unchanged; 0.05 gives the same, 0.15 also blocks a real re-link on seed 10)."""


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
        return net_votes(tr, self.threshold)

    def is_locked(self, tr: TrackIdentity) -> bool:
        """Locks at `vote_threshold` net votes; once locked, holds down to HOLD_FRACTION of it."""
        net, prior = self.own_net(tr), self._prior(tr)
        if tr.color_score <= 0.0 or (tr.inherited > 0.0 and net < 0.0):
            return False  # an inherited identity goes at the first net conflict
        if tr.locked and net + prior > HOLD_FRACTION * self.threshold:
            return True
        return (tr.support > 0.0 or prior > 0.0) and net + prior >= self.threshold - EPS

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
        if t - last < interval - EPS:
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
        crossing = crossing_ids(tracks)
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
            record_colour(tr, t, obs.torso_lab, self.color_score)
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
        record_read(tr, t, number, kind, conf, self.number)
        if kind is ReadKind.full and handover.switched(tr, self.threshold):
            note = f"id changed hands about {tr.since:g}s"
            log.append(TimelineEntry(t=t, kind="switched", track_id=tr.track_id, note=note))
        cap_evidence(tr, self.threshold)
        if tr.inherited > 0.0 and self.own_net(tr) >= self.threshold and tr.support > 0.0:
            tr.inherited = 0.0  # confirmed by its own reads

    def wearer_since(self, track_id: int, interval_s: float) -> float | None:
        """For a track that just became the target: when its current wearer took the id (`handover.wearer_since`),
        or None (from its first sighting)."""
        tr = self.state.tracks.get(track_id)
        return None if tr is None else handover.wearer_since(tr, interval_s, self.threshold)

    def split_time(self, track_id: int) -> float | None:
        """For a track that just lost the target identity: when it stopped following the target
        (`handover.split_time`), or None (it probably never was)."""
        tr = self.state.tracks.get(track_id)
        return None if tr is None else handover.split_time(tr, self.threshold, self.color_score)

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
        """Pass a lost identity to the nearest new track of the jersey colour within reach. Appearance counts only
        as that colour: whole-body colour descriptors tell a player from his teammates no better than chance on the
        labelled broadcast crops (`bench/appearance.py`, AUC 0.49-0.54)."""
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
            if inherit < RELINK_MIN_CONF or d > min(cap, base + per_s * gap) or (best is not None and d >= best[0]):
                continue
            if not self._resumes_another(tr, present, d):
                best = (d, i, inherit)
        if best is not None:
            _, i, inherit = best
            st.tracks[i].inherited = inherit
            st.ocr_asked.pop(i, None)  # due for a read at once: its own number confirms or refutes
            note = f"from track {st.target_id}"
            log.append(TimelineEntry(t=t, kind="relinked", track_id=i, confidence=round(inherit, 3), note=note))

    def _resumes_another(self, tr: TrackIdentity, present: set[int], to_target: float) -> bool:
        """Whether a new track, `to_target` from where the target was lost, starts where another skater's track was
        lost (RESUME_RADIUS) shortly before: that skater again, after missed detections, not the target."""
        return any(
            not other.locked
            and i not in present
            and other.last_t < tr.first_t
            and tr.first_t - other.last_t <= self.tuning.lost_timeout_s
            and distance(tr.first_foot, foot_point(other.box)) < min(to_target, RESUME_RADIUS)
            for i, other in self.state.tracks.items()
        )

    def _update_locks(self, t: float, present: set[int], log: list[TimelineEntry]) -> None:
        for i in sorted(present):
            tr = self.state.tracks[i]
            locked = self.is_locked(tr)
            if locked != tr.locked:
                tr.locked = locked
                if not locked and i == self.state.target_id:
                    self._target_revoked(tr, t)
                if not locked:
                    tr.inherited = 0.0  # refuted: it never comes back as a prior (`TrackIdentity.inherited`)
                kind = "locked" if locked else "unlocked"
                log.append(TimelineEntry(t=t, kind=kind, track_id=i, confidence=round(self.confidence(tr), 3)))

    def _target_revoked(self, tr: TrackIdentity, t: float) -> None:
        """The target's track lost the identity. Where its colour changed under it (`handover.recoloured_at`), a
        skater of another colour took the id there and the target is still close by: he is re-linked from there as
        if lost. Otherwise the identity was wrong, and a wrong identity is not passed on."""
        st = self.state
        recoloured = handover.recoloured_at(tr, self.threshold, self.color_score)
        if recoloured is None:
            st.target_id = None
        else:
            st.lost_t, st.lost_foot = recoloured, foot_point(tr.box)

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


def _click_target(tracks: list[TrackObs], x: float, y: float) -> int | None:
    """The track whose box contains the click; the nearest box centre when several do."""
    hits = [(distance(box_center(o.box), (x, y)), o.track_id) for o in tracks if box_contains(o.box, x, y)]
    return min(hits)[1] if hits else None


def _or_inf(value: float | None) -> float:
    return -math.inf if value is None else value
