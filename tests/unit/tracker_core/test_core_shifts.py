from __future__ import annotations

from shiftclipper_contracts.events import Segment
from shiftclipper_tracker.core.shifts import ShiftMachine, ShiftState, Sighting

STEP = 0.1


def machine(
    timeout: float = 2.0, gap: float = 5.0, min_shift: float = 1.0, slack: float = 0.0, merge_short: bool = True
) -> ShiftMachine:
    return ShiftMachine(
        timeout_s=timeout,
        gap_merge_s=gap,
        min_shift_s=min_shift,
        interval_s=STEP,
        merge_slack_s=slack,
        merge_short=merge_short,
    )


def feed(
    m: ShiftMachine,
    seen: list[tuple[float, float]],
    until: float,
    bench: list[tuple[float, float]] = (),
    track: int = 1,
) -> list[tuple[float, Segment]]:
    """Frames every STEP up to `until`; the target is seen on ice in `seen` and on a bench in `bench` windows."""
    out = []
    for k in range(round(until / STEP) + 1):
        t = round(k * STEP, 6)
        sighting = None
        if any(a <= t <= b for a, b in seen):
            sighting = Sighting(track_id=track, on_ice=True, confidence=0.9)
        elif any(a <= t <= b for a, b in bench):
            sighting = Sighting(track_id=track, on_ice=False, confidence=0.9)
        out += [(t, s) for s in m.update(t, sighting)[0]]
    return out


def test_shift_ends_at_last_sighting_not_after_timeout() -> None:
    m = machine()
    out = feed(m, [(1.0, 4.0)], 20.0)
    assert [(s.start_s, s.end_s) for _, s in out] == [(1.0, 4.0)]
    assert out[0][0] == 9.0  # final gap_merge_s (5) after its end
    assert out[0][1].confidence == 0.9


def test_states() -> None:
    m = machine()
    m.update(0.0, Sighting(track_id=1, on_ice=True, confidence=1.0))
    assert m.state.state is ShiftState.on_ice
    m.update(0.1, None)
    assert m.state.state is ShiftState.exiting
    m.update(0.2, Sighting(track_id=1, on_ice=True, confidence=1.0))
    assert m.state.state is ShiftState.on_ice
    m.update(2.5, None)
    assert m.state.state is ShiftState.off_ice


def test_bench_closes_immediately() -> None:
    m = machine(gap=0.0)
    out = feed(m, [(1.0, 4.0)], 10.0, bench=[(4.1, 10.0)])
    assert [(s.start_s, s.end_s) for _, s in out] == [(1.0, 4.0)]
    assert out[0][0] == 4.1


def test_merge_min_shift_and_finish() -> None:
    m = machine()
    out = feed(m, [(1.0, 4.0), (8.0, 12.0), (30.0, 30.5), (40.0, 45.0)], 45.0)
    out += [(45.0, s) for s in m.finish(45.0)[0]]
    assert [(s.index, s.start_s, s.end_s) for _, s in out] == [(0, 1.0, 12.0), (1, 40.0, 45.0)]
    assert m.finish(46.0)[0] == []


def test_a_piece_too_short_to_stand_does_not_stretch_a_shift_unless_merging_short_pieces() -> None:
    seen = [(1.0, 1.5), (5.0, 12.0), (16.0, 16.4), (19.0, 25.0)]  # 0.5 s and 0.4 s pieces, gaps under 5 s
    strict = machine(merge_short=False)
    out = feed(strict, seen, 40.0)
    assert [(s.start_s, s.end_s) for _, s in out] == [(5.0, 12.0), (19.0, 25.0)]  # 12 -> 19: 7 s, no bridge
    windows = machine()  # clips mode: a flickering target's short windows do join
    assert [(s.start_s, s.end_s) for _, s in feed(windows, seen, 40.0)] == [(1.0, 25.0)]


def test_seen_fraction_lowers_confidence() -> None:
    m = machine(timeout=5.0)
    out = feed(m, [(1.0, 2.0), (5.0, 6.0)], 20.0)
    assert len(out) == 1 and out[0][1].confidence < 0.9 * 0.8


def test_frames_skipped_between_sightings_count_as_seen() -> None:
    """Every 2nd frame processed while locked: the shift is fully seen; a real gap still lowers confidence."""
    strided = machine()
    for k in range(10, 41, 2):
        strided.update(round(k * STEP, 6), Sighting(track_id=1, on_ice=True, confidence=0.9))
    assert [s.confidence for s in strided.finish(5.0)[0]] == [0.9]
    gappy = machine()
    for k in [*range(10, 21, 2), *range(21, 30), *range(30, 41, 2)]:  # unseen 2.1-2.9 s: every frame processed
        sighting = None if 20 < k < 30 else Sighting(track_id=1, on_ice=True, confidence=0.9)
        gappy.update(round(k * STEP, 6), sighting)
    (segment,) = gappy.finish(5.0)[0]
    assert segment.confidence < 0.9 * 0.9


def test_backdated_start_and_retraction() -> None:
    m = machine()
    m.update(5.0, Sighting(track_id=3, on_ice=True, confidence=0.8, since=3.0, backfill=20))
    assert m.state.current is not None and m.state.current.start == 3.0
    m.update(5.1, Sighting(track_id=4, on_ice=True, confidence=0.8))
    m.retract(3, 5.2)
    assert m.state.current is not None and m.state.current.start == 5.1
    m.retract(4, 5.3)
    assert m.state.current is None and m.state.state is ShiftState.off_ice
    assert [e.kind for e in m.update(5.4, None)[1]] == ["retracted", "retracted"]


def test_merge_slack_delays_finality() -> None:
    m = machine(slack=2.0)
    out = feed(m, [(1.0, 4.0)], 20.0)
    assert out[0][0] == 11.0


def test_a_shift_under_the_confidence_floor_is_dropped_with_a_record() -> None:
    doubtful = ShiftMachine(timeout_s=2.0, gap_merge_s=5.0, min_shift_s=1.0, interval_s=STEP, min_confidence=0.6)
    for k in range(10, 41):
        doubtful.update(round(k * STEP, 6), Sighting(track_id=1, on_ice=True, confidence=0.55))
    segments, log = doubtful.finish(5.0)
    assert segments == [] and [e.kind for e in log][-1] == "dropped" and "under 0.6" in (log[-1].note or "")
    sure = ShiftMachine(timeout_s=2.0, gap_merge_s=5.0, min_shift_s=1.0, interval_s=STEP, min_confidence=0.6)
    assert [(s.start_s, s.end_s) for _, s in feed(sure, [(1.0, 4.0)], 20.0)] == [(1.0, 4.0)]  # seen at 0.9: kept


def test_a_doubtful_piece_does_not_stretch_a_later_shift_in_shifts_mode() -> None:
    """`shifts` mode: a piece under the confidence floor, closed after the timeout, is dropped before it can merge
    (a #14 read "4" just enough to lock, 10 s before the #4 came on: the 5-minute seed-16 game's shift began 15 s
    early); `clips` mode still merges visible windows whatever each one's confidence."""

    def run(merge_short: bool) -> list[tuple[float, float]]:
        m = ShiftMachine(
            timeout_s=2.0, gap_merge_s=12.0, min_shift_s=1.0, interval_s=STEP, min_confidence=0.6,
            merge_short=merge_short,
        )  # fmt: skip
        out = []
        for k in range(round(40 / STEP) + 1):
            t = round(k * STEP, 6)
            sighting = None
            if 5.0 <= t <= 9.0:
                sighting = Sighting(track_id=1, on_ice=True, confidence=0.5)
            elif 15.0 <= t <= 25.0:
                sighting = Sighting(track_id=2, on_ice=True, confidence=0.9)
            out += m.update(t, sighting)[0]
        out += m.finish(40.0)[0]
        return [(s.start_s, s.end_s) for s in out]

    assert run(merge_short=False) == [(15.0, 25.0)]
    assert run(merge_short=True) == [(5.0, 25.0)]


def test_a_backdated_start_stops_at_a_piece_just_dropped_as_too_short() -> None:
    """As above, when the target's own track was closed and dropped (under `min_shift_s`) before the other track
    locked. On the 5-minute wide-view seed-24 game (ByteTrack's `fuse_score` off) the #4's track, seen 148.5-151.1 s,
    was dropped at 155.5 s; a #17's track that took the #4 at 151.9 s locked at 159.6 s and was backdated to its
    first sighting, 138.4 s: the shift began 10 s early (TOI error 9.8 % -> 5.4 %)."""
    m = machine(timeout=4.0, gap=10.0, min_shift=3.0, merge_short=False)
    feed(m, [(48.5, 51.1)], 55.5)
    assert m.state.current is None and m.state.pending is None  # 2.6 s: dropped
    m.update(59.6, Sighting(track_id=2, on_ice=True, confidence=0.9, since=38.4, backfill=211))
    assert m.state.current is not None and [(p.track_id, p.start) for p in m.state.current.parts] == [(2, 51.1)]
    assert m.state.current.parts[0].seen_frames == 86  # 51.1-59.6 s
    for k in range(597, 800):
        m.update(round(k * STEP, 6), Sighting(track_id=2, on_ice=True, confidence=0.9))
    segments, _ = m.finish(80.0)
    assert [(s.start_s, s.end_s) for s in segments] == [(51.1, 79.9)]


def test_a_track_locking_in_an_open_shift_is_not_backdated_into_another_tracks_sightings() -> None:
    """The target is on one track at a time. On the 5-minute wide-view seed-24 game a teammate's track, read weak
    other numbers from 139.4 s, passed to the #4 when his own track (seen 148.5-151.1 s) was lost; when it locked
    at 154.1 s its sightings were backdated to 139.4 s and the shift began 8.9 s early (TOI error 8.7 % -> 2.2 %)."""
    m = machine(timeout=6.0)
    for k in range(100, 201):
        m.update(round(k * STEP, 6), Sighting(track_id=1, on_ice=True, confidence=0.9))
    m.update(22.0, Sighting(track_id=2, on_ice=True, confidence=0.9, since=5.0, backfill=170))
    assert m.state.current is not None and m.state.current.start == 10.0
    assert [(p.track_id, p.start) for p in m.state.current.parts] == [(1, 10.0), (2, 20.0)]
    assert m.state.current.parts[1].seen_frames == 21  # 20.0-22.0 s, not the 17 s of backfill asked for
    fresh = machine()
    fresh.update(5.0, Sighting(track_id=3, on_ice=True, confidence=0.8, since=3.0, backfill=20))
    assert fresh.state.current is not None and fresh.state.current.parts[0].seen_frames == 21  # opening: whole run
