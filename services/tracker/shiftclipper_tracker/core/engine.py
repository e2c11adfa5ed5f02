"""The pure tracking core: per-frame observations in, final shift segments out. No I/O.

Per processed frame the adapter calls `needs_read(track_id, t, torso_lab, box)` for each track (running
OCR only where it answers True), then `update(frame)`; at the end `finish(end_t)`. Segments come
out as soon as they are final (see `shifts` for the merge latency). `snapshot()` after any
`update()` and `TrackingCore.restore()` resume with identical results.

`shifts` mode bridges gaps up to `lost_timeout_s`; `clips` mode ends a window after ~2 missed
frames. In both, `gap_merge_s` then merges and `min_shift_s` drops (set gap_merge_s to 0 for
strictly visible windows). A final shift whose confidence stays under `min_shift_confidence` is dropped too;
in `shifts` mode a piece under `min_shift_s` or `min_shift_confidence` is dropped before it can merge. A shift
starts at the first on-ice sighting of the track that turns out to be the target (its start is backdated
to when that track appeared, or to when its id changed hands, not when it locked). A track that loses the
identity keeps its sightings up to the hand-over its reads show; without a clear hand-over they are retracted.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shiftclipper_contracts.events import Segment
from shiftclipper_contracts.job_setup import JobSetup, Mode, Tuning

from .color import hex_to_lab
from .geometry import foot_point, point_in_polygon
from .identity import Decision, IdentityVoter, VoterState
from .observations import Box, FrameObs, Lab, TrackObs
from .shifts import MachineState, ShiftMachine, Sighting
from .timeline import TimelineEntry

SNAPSHOT_VERSION = 1
CLIP_GAP_FRAMES = 2.5
"""`clips` mode: a visible window ends when the target is missing for more than ~2 frame intervals."""
MERGE_SLACK_MIN_S = 2.0
MERGE_SLACK_READS = 4
"""A closed shift waits this long past gap_merge_s before it is final: time for a returning player's
new track to be read and lock (its backdated start may still fall inside the merge gap)."""


class Run(msgspec.Struct, kw_only=True):
    """A track's current run of on-ice sightings (gaps no longer than the shift timeout)."""

    start: float
    last: float
    frames: int


class EngineState(msgspec.Struct, kw_only=True):
    version: int = SNAPSHOT_VERSION
    voter: VoterState = msgspec.field(default_factory=VoterState)
    machine: MachineState = msgspec.field(default_factory=MachineState)
    runs: dict[int, Run] = {}
    prev_target: int | None = None
    last_frame_index: int | None = None
    target: Decision | None = None
    frames: int = 0
    timeline: list[TimelineEntry] = []


class TrackingCore:
    def __init__(self, setup: JobSetup, tuning: Tuning, fps: float, *, state: EngineState | None = None) -> None:
        """`fps`: the video's frame rate; frames are processed at min(fps, tuning.detect_fps)."""
        self.setup = setup
        self.tuning = tuning
        self.interval_s = 1.0 / min(fps, tuning.detect_fps)
        """Processed-frame interval: the adapter runs detection at min(video fps, detect_fps)."""
        self.state = state or EngineState()
        opponent: Lab | None = hex_to_lab(setup.opponent_color) if setup.opponent_color else None
        self.voter = IdentityVoter(
            setup.jersey_number,
            hex_to_lab(setup.jersey_color),
            opponent,
            tuning,
            setup.seed_clicks,
            state=self.state.voter,
        )
        clips = setup.mode == Mode.clips
        self.timeout_s = CLIP_GAP_FRAMES * self.interval_s if clips else tuning.lost_timeout_s
        self.machine = ShiftMachine(
            timeout_s=self.timeout_s,
            gap_merge_s=tuning.gap_merge_s,
            min_shift_s=tuning.min_shift_s,
            interval_s=self.interval_s,
            min_confidence=tuning.min_shift_confidence,
            merge_slack_s=max(MERGE_SLACK_MIN_S, MERGE_SLACK_READS * tuning.ocr_interval_s),
            merge_short=clips,
            state=self.state.machine,
        )

    # -- per frame -----------------------------------------------------------------------------

    def needs_read(self, track_id: int, t: float, torso_lab: Lab | None = None, box: Box | None = None) -> bool:
        """Whether to run OCR on this track on this frame (True is taken as a promise that it runs)."""
        return self.voter.needs_read(track_id, t, torso_lab, box)

    def update(self, frame: FrameObs) -> list[Segment]:
        """Fold one processed frame in; return the segments that became final (indices 0, 1, 2, ...).
        Frames must come in order; a frame at or before `last_frame_index` is ignored."""
        st = self.state
        if st.last_frame_index is not None and frame.frame_index <= st.last_frame_index:
            return []  # already folded in (a resumed job may re-feed frames after its checkpoint)
        st.last_frame_index = frame.frame_index
        st.frames += 1
        kept, benched = self._place(frame.tracks)
        decision, log = self.voter.observe(frame.t, kept)
        for entry in log:
            if entry.kind == "unlocked" and entry.track_id is not None:
                self._revoke(entry.track_id, frame.t)
        self._update_runs(frame.t, kept, benched)
        sighting = self._sighting(frame.t, decision, benched)
        st.target = decision
        segments, shift_log = self.machine.update(frame.t, sighting)
        st.timeline.extend(log)
        st.timeline.extend(shift_log)
        return segments

    def finish(self, end_t: float) -> list[Segment]:
        """End of video: close a shift still open at its last sighting; return the remaining segments."""
        segments, log = self.machine.finish(end_t)
        self.state.timeline.extend(log)
        return segments

    @property
    def target(self) -> Decision | None:
        """The target track and its identity confidence on the last frame (for the debug overlay)."""
        return self.state.target

    @property
    def searching(self) -> bool:
        """Whether an identity is being looked for on the last frame: the target lost a moment ago and not
        given up yet (re-linking), or a track in the jersey colour in view whose identity is still open or that
        has another skater beside it (the target may take its id there)."""
        voter, t = self.voter.state, self.machine.state.last_t
        if voter.target_id is not None and voter.lost_t is not None:
            return True
        return t is not None and self.voter.searching_at(t)

    @property
    def target_crowded(self) -> bool:
        """Whether the target seen on the last frame has another skater close beside it (`crowded`)."""
        t, target = self.machine.state.last_t, self.state.target
        return t is not None and target is not None and self.voter.crowded(target.track_id, t)

    @property
    def last_frame_index(self) -> int | None:
        """The last frame folded in: a restored core resumes decoding after it."""
        return self.state.last_frame_index

    @property
    def timeline(self) -> list[TimelineEntry]:
        return self.state.timeline

    # -- checkpointing -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state; take it between frames."""
        return msgspec.to_builtins(self.state, str_keys=True)

    @classmethod
    def restore(cls, setup: JobSetup, tuning: Tuning, fps: float, snapshot: dict[str, Any]) -> TrackingCore:
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"tracking snapshot version {snapshot.get('version')!r} != {SNAPSHOT_VERSION}")
        state = msgspec.convert(snapshot, EngineState, str_keys=True)
        return cls(setup, tuning, fps, state=state)

    # -- helpers -------------------------------------------------------------------------------

    def _place(self, tracks: list[TrackObs]) -> tuple[list[TrackObs], set[int]]:
        """Drop detections off the rink; note those on a bench (checked first: benches lie off the ice)."""
        kept: list[TrackObs] = []
        benched: set[int] = set()
        rink = self.setup.rink_polygon
        for obs in tracks:
            foot = foot_point(obs.box)
            if any(point_in_polygon(foot, bench) for bench in self.setup.bench_polygons):
                benched.add(obs.track_id)
            elif rink is not None and not point_in_polygon(foot, rink):
                continue
            kept.append(obs)
        return kept, benched

    def _update_runs(self, t: float, kept: list[TrackObs], benched: set[int]) -> None:
        runs = self.state.runs
        for obs in kept:
            run = runs.get(obs.track_id)
            if obs.track_id in benched:
                runs.pop(obs.track_id, None)
            elif run is None or t - run.last > self.timeout_s + 1e-6:
                runs[obs.track_id] = Run(start=t, last=t, frames=1)
            else:
                run.last, run.frames = t, run.frames + 1
        for track_id in [i for i in runs if i not in self.voter.state.tracks]:
            del runs[track_id]

    def _revoke(self, track_id: int, t: float) -> None:
        """A track lost the identity: keep its sightings up to a clear hand-over, else undo them (if it
        locks again, its next sighting backdates to its run start, so a noise-induced flip costs nothing)."""
        split = self.voter.split_time(track_id)
        if split is not None:
            self.machine.truncate(track_id, split, t)
        else:
            self.machine.retract(track_id, t)
        if self.state.prev_target == track_id:
            self.state.prev_target = None

    def _sighting(self, t: float, decision: Decision | None, benched: set[int]) -> Sighting | None:
        st = self.state
        if decision is None:
            return None
        if decision.track_id in benched:
            return Sighting(track_id=decision.track_id, on_ice=False, confidence=decision.confidence)
        run = st.runs[decision.track_id]
        changed = decision.track_id != st.prev_target
        st.prev_target = decision.track_id
        if not changed:
            return Sighting(track_id=decision.track_id, on_ice=True, confidence=decision.confidence)
        since, backfill = run.start, run.frames - 1
        worn = self.voter.wearer_since(decision.track_id, self.interval_s)
        if worn is not None and min(worn, t) > since:
            since = min(worn, t)
            backfill = min(backfill, max(0, round((t - since) / self.interval_s) - 1))
        return Sighting(
            track_id=decision.track_id, on_ice=True, confidence=decision.confidence, since=since, backfill=backfill
        )
