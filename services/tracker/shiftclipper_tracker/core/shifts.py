"""From per-frame target sightings to shifts: a small state machine, then gap merging and a minimum length.

States: off_ice -> on_ice (target seen on the ice) -> exiting (unseen) -> on_ice (seen again in time)
or off_ice (unseen longer than the timeout, or seen on a bench). A shift runs from its first to its
LAST on-ice sighting, so closing it after the timeout does not make its end late.

Latency: a closed shift may still merge with the next one, so it is final only once no new shift
can start less than `gap_merge_s` after its end: `gap_merge_s + merge_slack_s` after its end (the
slack covers a new track whose identity locks a little after it appeared, whose start is backdated
to that appearance), or as soon as a later shift starts past the gap, or at `finish()`.
"""

from __future__ import annotations

import enum

import msgspec

from shiftclipper_contracts.events import Segment

from .timeline import TimelineEntry

_EPS = 1e-6


class ShiftState(enum.StrEnum):
    off_ice = "off_ice"
    on_ice = "on_ice"
    exiting = "exiting"


class Sighting(msgspec.Struct, kw_only=True, frozen=True):
    """The target seen on one processed frame."""

    track_id: int
    on_ice: bool
    """False when the target stands inside a bench polygon."""
    confidence: float
    """Identity confidence on this frame, 0..1."""
    since: float | None = None
    """Start of the target track's current on-ice run, when the target just moved to this track:
    the track was the target before its identity locked, so a new shift starts there (in an open shift, no
    earlier than where the shift's earlier tracks last showed the target)."""
    backfill: int = 0
    """On-ice frames of that run before this one (they count as seen)."""


class Part(msgspec.Struct, kw_only=True):
    """The sightings one track contributed to a shift (kept apart so they can be retracted)."""

    track_id: int
    start: float
    end: float
    seen_frames: int = 0
    conf_sum: float = 0.0


class RawShift(msgspec.Struct, kw_only=True):
    parts: list[Part]

    @property
    def start(self) -> float:
        return min(p.start for p in self.parts)

    @property
    def end(self) -> float:
        return max(p.end for p in self.parts)

    @property
    def seen_frames(self) -> int:
        return sum(p.seen_frames for p in self.parts)

    @property
    def conf_sum(self) -> float:
        return sum(p.conf_sum for p in self.parts)


class MachineState(msgspec.Struct, kw_only=True):
    state: ShiftState = ShiftState.off_ice
    current: RawShift | None = None
    pending: RawShift | None = None
    """The last closed shift, not final yet: the next one may still merge into it."""
    last_end: float | None = None
    """End of the last closed shift: a backdated start never reaches before it."""
    dropped_end: float | None = None
    """End of the last piece dropped as it closed (too short or too doubtful to stand, `merge_short` off): a
    backdated start never reaches before it either, for the core took that piece for the target."""
    final_end: float | None = None
    next_index: int = 0
    last_t: float | None = None
    """The previous processed frame: frames skipped between two sightings of the target count as seen."""


class ShiftMachine:
    def __init__(
        self,
        *,
        timeout_s: float,
        gap_merge_s: float,
        min_shift_s: float,
        interval_s: float,
        min_confidence: float = 0.0,
        merge_slack_s: float = 0.0,
        merge_short: bool = True,
        state: MachineState | None = None,
    ) -> None:
        """`merge_short`: whether a closed shift shorter than `min_shift_s` may still merge with its neighbours
        (`clips` mode: a flickering target's visible windows are that short). False in `shifts` mode, where a
        closed shift is all that was seen between two losses of `timeout_s`: one under `min_shift_s` is too little
        to stand as a shift, and so too little to stretch one through `gap_merge_s` (on the 60-minute benchmark
        game all 15 such pieces were false locks, and merged they started 6 true shifts 3-13 s early). The same holds
        for a piece under `min_confidence`: too doubtful to stand, so too doubtful to stretch one (on the 5-minute
        seed-16 game a #14 read "4" just enough to lock, 0.47, started a true shift 15 s early; on the hour one such
        piece, 0.48, started one 13.5 s early).
        `min_confidence`: a final shift whose confidence (`_confidence`) is under this is dropped, with a timeline
        record (`Tuning.min_shift_confidence`)."""
        self.timeout_s = timeout_s
        self.gap_merge_s = gap_merge_s
        self.min_shift_s = min_shift_s
        self.min_confidence = min_confidence
        self.interval_s = interval_s
        self.merge_slack_s = merge_slack_s
        self.merge_short = merge_short
        self.state = state or MachineState()
        self._out: list[Segment] = []
        self._log: list[TimelineEntry] = []

    def update(self, t: float, sighting: Sighting | None) -> tuple[list[Segment], list[TimelineEntry]]:
        """One processed frame; returns the segments that became final and the state-change records."""
        st = self.state
        if sighting is not None and sighting.on_ice:
            self._seen(t, sighting)
        elif st.current is not None and sighting is not None:
            self._close(t, "bench")
        elif st.current is not None:
            st.state = ShiftState.exiting
        if st.current is not None and t - st.current.end > self.timeout_s + _EPS:
            self._close(t, "unseen")
        self._finalize_if_due(t)
        st.last_t = t
        return self._drain()

    def finish(self, end_t: float) -> tuple[list[Segment], list[TimelineEntry]]:
        """End of video: close an open shift at its last sighting and finalise everything."""
        if self.state.current is not None:
            self._close(end_t, "video end")
        if self.state.pending is not None:
            self._finalize(end_t, self.state.pending)
        return self._drain()

    def _seen(self, t: float, s: Sighting) -> None:
        st = self.state
        frames = 1 + s.backfill
        opening = st.current is None
        shift = st.current = st.current or RawShift(parts=[])
        part = next((p for p in reversed(shift.parts) if p.track_id == s.track_id), None)
        if part is not None and st.last_t is not None and abs(part.end - st.last_t) < _EPS:
            # seen on the previous processed frame too: the frames skipped in between (the pipeline detects
            # every `settled_stride`-th frame while the target is locked) were the target's
            frames = max(frames, round((t - st.last_t) / self.interval_s))
        if part is None:
            # A backdated start stops at the last closed shift's (or dropped piece's) end and, the target being on one
            # track at a time, at the end of this shift's earlier tracks (before then the locking track was someone
            # else's).
            floors = [p.end for p in shift.parts] + [x for x in (st.last_end, st.dropped_end) if x is not None]
            start = max([min(s.since if s.since is not None else t, t), *floors])
            frames = min(frames, 1 + round((t - start) / self.interval_s))
            part = Part(track_id=s.track_id, start=start, end=t)
            shift.parts.append(part)
        if opening:
            note = f"from {part.start:g}s"
            self._log.append(TimelineEntry(t=t, kind="shift_start", confidence=round(s.confidence, 3), note=note))
        part.end = t
        part.seen_frames += frames
        part.conf_sum += s.confidence * frames
        st.state = ShiftState.on_ice

    def retract(self, track_id: int, t: float) -> None:
        """A track turned out not to be the target: drop its sightings from shifts not final yet."""
        st = self.state
        for shift in (st.current, st.pending):
            if shift is None or all(p.track_id != track_id for p in shift.parts):
                continue
            shift.parts = [p for p in shift.parts if p.track_id != track_id]
            self._log.append(TimelineEntry(t=t, kind="retracted", track_id=track_id))
        self._drop_empty()

    def truncate(self, track_id: int, until: float, t: float) -> None:
        """A track stopped following the target at `until`: keep only its sightings before then."""
        st = self.state
        for shift in (st.current, st.pending):
            if shift is None or all(p.track_id != track_id for p in shift.parts):
                continue
            kept = []
            for part in shift.parts:
                if part.track_id == track_id and part.end >= until:
                    if part.start >= until:
                        continue
                    cut = (until - part.start) / max(part.end - part.start, self.interval_s)
                    part.seen_frames = max(1, round(part.seen_frames * cut))
                    part.conf_sum *= cut
                    part.end = until
                kept.append(part)
            shift.parts = kept
            self._log.append(TimelineEntry(t=t, kind="truncated", track_id=track_id, note=f"at {until:g}s"))
        self._drop_empty()

    def _drop_empty(self) -> None:
        st = self.state
        if st.current is not None and not st.current.parts:
            st.current, st.state = None, ShiftState.off_ice
        if st.pending is not None and not st.pending.parts:
            st.pending, st.last_end = None, st.final_end

    def _close(self, t: float, why: str) -> None:
        st = self.state
        shift = st.current
        assert shift is not None
        self._log.append(TimelineEntry(t=t, kind="shift_end", note=f"{why}; ended {shift.end:g}s"))
        st.current, st.state = None, ShiftState.off_ice
        if not self.merge_short and (self._too_short(t, shift) or self._doubtful(t, shift)):
            st.dropped_end = shift.end
            return
        st.last_end = shift.end
        if st.pending is not None and shift.start - st.pending.end < self.gap_merge_s:
            st.pending.parts += shift.parts
            return
        if st.pending is not None:
            self._finalize(t, st.pending)
        st.pending = shift

    def _finalize_if_due(self, t: float) -> None:
        p, cur = self.state.pending, self.state.current
        if p is None:
            return
        if cur is not None and cur.start - p.end < self.gap_merge_s:
            return  # the open shift will merge into it when it closes
        if t - p.end >= self.gap_merge_s + self.merge_slack_s or cur is not None:
            self._finalize(t, p)

    def _finalize(self, t: float, shift: RawShift) -> None:
        st = self.state
        st.pending, st.final_end = None, shift.end
        if self._too_short(t, shift) or self._doubtful(t, shift):
            return
        seg = Segment(index=st.next_index, start_s=shift.start, end_s=shift.end, confidence=self._confidence(shift))
        st.next_index += 1
        self._out.append(seg)
        note = f"{seg.start_s:g}-{seg.end_s:g}s"
        self._log.append(TimelineEntry(t=t, kind="segment", confidence=seg.confidence, note=note))

    def _too_short(self, t: float, shift: RawShift) -> bool:
        """Whether the shift is under `min_shift_s` (then it is dropped, with a timeline record)."""
        if shift.end - shift.start >= self.min_shift_s - _EPS:
            return False
        note = f"{shift.start:g}-{shift.end:g}s shorter than {self.min_shift_s:g}s"
        self._log.append(TimelineEntry(t=t, kind="dropped", note=note))
        return True

    def _doubtful(self, t: float, shift: RawShift) -> bool:
        """Whether the shift's confidence is under `min_confidence` (then it is dropped, with a timeline record)."""
        confidence = self._confidence(shift)
        if confidence >= self.min_confidence:
            return False
        note = f"{shift.start:g}-{shift.end:g}s confidence {confidence:g} under {self.min_confidence:g}"
        self._log.append(TimelineEntry(t=t, kind="dropped", confidence=confidence, note=note))
        return True

    def _confidence(self, shift: RawShift) -> float:
        """Mean identity confidence, discounted when the target was seen on few of the shift's frames."""
        expected = round((shift.end - shift.start) / self.interval_s) + 1
        seen_fraction = min(1.0, shift.seen_frames / max(expected, 1))
        identity = shift.conf_sum / max(shift.seen_frames, 1)
        return round(min(1.0, identity * (0.6 + 0.4 * seen_fraction)), 3)

    def _drain(self) -> tuple[list[Segment], list[TimelineEntry]]:
        out, log = self._out, self._log
        self._out, self._log = [], []
        return out, log
