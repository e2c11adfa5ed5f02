from __future__ import annotations

import itertools

import pytest
from tc_streams import RED, WHITE, tuning

from shiftclipper_contracts.job_setup import SeedClick
from shiftclipper_tracker.core.color import hex_to_lab, rgb_to_lab
from shiftclipper_tracker.core.evidence import POSE_S, ReadKind, classify_read
from shiftclipper_tracker.core.identity import IDLE_GRACE, RECHECK_FACTOR, Decision, IdentityVoter
from shiftclipper_tracker.core.observations import NumberRead, TrackObs

TEAM = hex_to_lab("#c8102e")
OPP = hex_to_lab("#ffffff")


@pytest.mark.parametrize(
    ("read", "target", "kind"),
    [
        ("19", "19", ReadKind.full),
        ("9", "19", ReadKind.partial),
        ("1", "19", ReadKind.partial),
        ("7", "19", ReadKind.conflict),
        ("18", "19", ReadKind.conflict),
        ("2", "2", ReadKind.full),
        ("12", "2", ReadKind.superset),
        ("19", "9", ReadKind.superset),
        ("0", "00", ReadKind.partial),
        ("00", "0", ReadKind.superset),
        ("1O", "19", ReadKind.ignore),
        ("", "19", ReadKind.ignore),
    ],
)
def test_classify_read(read: str, target: str, kind: ReadKind) -> None:
    assert classify_read(read, target) is kind


def voter(number: str = "19", clicks: list[SeedClick] | None = None) -> IdentityVoter:
    return IdentityVoter(number, TEAM, OPP, tuning(), clicks)


def obs(track_id: int, rgb=RED, read: tuple[str, float] | None = None, x: float = 0.5) -> TrackObs:
    number = NumberRead(number=read[0], confidence=read[1]) if read else None
    return TrackObs(
        track_id=track_id, box=(x - 0.02, 0.5, x + 0.02, 0.62), det_conf=0.9, torso_lab=rgb_to_lab(rgb), read=number
    )


def test_a_skater_cut_by_the_frame_side_is_not_read_and_its_reads_do_not_vote() -> None:
    v = voter("4")
    at_left = obs(1, x=0.015)  # box 0.0-0.035: running out of the frame, his "14" may show as "4"
    assert not v.needs_read(1, 0.0, at_left.torso_lab, at_left.box)
    assert not v.needs_read(2, 0.0, at_left.torso_lab, obs(2, x=0.985).box)  # same at the right side
    for k in range(8):
        decision, _ = v.observe(k * 0.3, [obs(1, read=("4", 0.9), x=0.015)])
    assert decision is None and v.own_net(v.state.tracks[1]) == 0.0
    inside = obs(1, x=0.1)
    assert v.needs_read(1, 2.4, inside.torso_lab, inside.box)  # fully in view again: read at once
    decision, _ = v.observe(2.4, [obs(1, read=("4", 0.9), x=0.1)])
    assert v.own_net(v.state.tracks[1]) > 0.0


def test_votes_lock_and_low_confidence_reads_are_ignored() -> None:
    v = voter()
    for k in range(5):
        decision, _ = v.observe(k * 0.1, [obs(1, read=("19", 0.45))])  # below ocr_min_conf 0.5
    assert decision is None
    decision, _ = v.observe(0.6, [obs(1, read=("19", 0.7))])
    assert decision is None  # 0.7 < vote_threshold 1.2
    decision, log = v.observe(1.6, [obs(1, read=("19", 0.7))])  # a new pose (POSE_S later): a whole vote
    assert decision is not None and decision.track_id == 1 and 0.5 <= decision.confidence <= 1.0
    assert [e.kind for e in log] == ["locked"]


@pytest.mark.parametrize(("confs", "locks"), [((0.86, 0.95, 0.94), True), ((0.86, 0.88, 0.89), False)])
def test_repeats_read_surely_are_not_discounted_as_one_pose(confs: tuple[float, ...], locks: bool) -> None:
    """The 1080p seed-1 game: after another skater's "7", the target read "4" three times in 0.6 s. Reads at
    SURE_CONF (0.9) or more count whole; below it, repeats within POSE_S count as about one view."""
    v = voter("4")
    v.observe(0.0, [obs(1, read=("7", 0.56))])
    for k, conf in enumerate(confs):
        decision, _ = v.observe(1.5 + 0.3 * k, [obs(1, read=("4", conf))])
    assert (decision is not None) is locks


def test_partial_reads_alone_never_lock() -> None:
    v = voter()
    for k in range(50):
        decision, _ = v.observe(k * 0.1, [obs(1, read=("9", 0.99))])
    assert decision is None
    decision, _ = v.observe(5.0, [obs(1, read=("19", 0.6))])
    assert decision is None  # one moderate misread plus capped partial support is not enough


def test_conflicting_reads_unlock() -> None:
    v = voter()
    v.observe(0.0, [obs(1, read=("19", 0.9))])
    decision, _ = v.observe(1.0, [obs(1, read=("19", 0.9))])
    assert decision is not None
    kinds = []
    for k in range(2, 5):
        decision, log = v.observe(float(k), [obs(1, read=("12", 0.9))])
        kinds += [e.kind for e in log]
    assert decision is None
    assert kinds == ["unlocked"]


def test_opponent_colour_never_locks() -> None:
    v = voter()
    for k in range(30):
        decision, _ = v.observe(k * 0.1, [obs(2, rgb=WHITE, read=("19", 0.99))])
        assert decision is None


def test_needs_read_interval_colour_and_margin() -> None:
    v = voter()
    red = rgb_to_lab(RED)
    assert v.needs_read(1, 0.0, red)
    assert not v.needs_read(1, 0.1, red)  # asked at 0.0, interval 0.3
    assert v.needs_read(1, 0.3, red)
    assert not v.needs_read(2, 0.0, rgb_to_lab(WHITE))  # colour fails: OCR cannot make it the target
    for k in range(6):
        v.observe(k * 0.3, [obs(1, read=("19", 0.99))])  # locks with a wide margin
    assert not v.needs_read(1, 1.8, red)
    assert v.needs_read(1, 1.5 + 5 * 0.3, red)  # still re-checked, at a slower cadence


def test_seed_click_pins_the_track_under_it() -> None:
    v = voter(clicks=[SeedClick(t=1.0, x=0.3, y=0.55)])
    tracks = [obs(1, x=0.3), obs(2, x=0.7)]
    assert v.observe(0.6, tracks)[0] is None
    decision, log = v.observe(1.0, tracks)
    assert decision is not None and decision.track_id == 1 and decision.confidence > 0.9
    assert [e.kind for e in log] == ["pinned", "locked"]


def test_relink_inherits_with_reduced_confidence_then_confirms() -> None:
    v = voter()
    for k in range(4):
        before, _ = v.observe(k * 0.5, [obs(1, read=("19", 0.9))])
    assert before is not None
    v.observe(1.6, [])  # target lost at 1.5
    decision, log = v.observe(2.2, [obs(5, x=0.55)])
    assert decision is not None and decision.track_id == 5
    assert decision.confidence < before.confidence
    assert log[0].kind == "relinked"
    confirmed, _ = v.observe(2.3, [obs(5, x=0.55, read=("19", 0.9)), obs(6, x=0.9)])
    assert confirmed is not None and confirmed.track_id == 5
    v.observe(3.3, [obs(5, x=0.55, read=("19", 0.9))])
    assert v.state.tracks[5].inherited == 0.0


def test_relink_fades_with_the_time_the_target_was_unseen() -> None:
    def relinked_after(gap: float) -> Decision | None:
        v = voter()
        for k in range(4):
            v.observe(k * 0.5, [obs(1, read=("19", 0.9))])
        v.observe(1.6, [])  # target lost at 1.5
        return v.observe(1.5 + gap, [obs(5, x=0.55)])[0]

    soon, later = relinked_after(0.7), relinked_after(2.0)
    assert soon is not None and later is not None and later.confidence < soon.confidence
    assert relinked_after(4.0) is None  # any skater of the colour is in reach by then: no free identity


def test_relink_refused_far_away_or_for_old_tracks() -> None:
    v = voter()
    for k in range(4):
        v.observe(k * 0.1, [obs(1, read=("19", 0.9)), obs(2, x=0.6)])
    v.observe(0.4, [obs(2, x=0.6)])
    assert v.observe(0.5, [obs(2, x=0.55), obs(3, x=0.95)])[0] is None  # 2 existed before; 3 is too far


def test_a_settled_track_is_read_at_full_rate_again_after_a_crossing_or_a_contradicting_read() -> None:
    v = voter()
    t = 0.0
    for _ in range(2):  # clearly #7: decided, re-checked only every RECHECK_FACTOR intervals
        assert v.needs_read(1, t)
        v.observe(t, [obs(1, read=("7", 0.9), x=0.2), obs(2, x=0.8)])
        t += 1.0  # a new pose each time (POSE_S)
    assert v.settled(v.state.tracks[1]) and not v.needs_read(1, t)
    v.observe(t, [obs(1, x=0.5), obs(2, x=0.51)])  # another skater's box over it: ids may have swapped
    assert not v.settled(v.state.tracks[1]) and v.needs_read(1, t + 0.3)
    v.observe(t + 0.3, [obs(1, read=("19", 0.9), x=0.5), obs(2, x=0.8)])
    assert not v.settled(v.state.tracks[1]), "a read contradicting the verdict keeps it unsettled"
    assert v.needs_read(1, t + 0.6)


def test_an_inherited_identity_goes_at_steady_weak_reads_of_another_number() -> None:
    v = voter()
    v.observe(0.0, [obs(1, read=("19", 0.9), x=0.5)])
    decision, _ = v.observe(1.0, [obs(1, read=("19", 0.9), x=0.5)])
    assert decision is not None and decision.track_id == 1
    v.observe(1.1, [])  # the target's track is lost; a new track appears where it was
    decision, _ = v.observe(1.2, [obs(2, x=0.51)])
    assert decision is not None and decision.track_id == 2  # inherited, unconfirmed
    kinds = []
    for k in range(3, 11):  # it keeps reading "13" weakly (below ocr_min_conf 0.5, above half of it)
        decision, log = v.observe(1.0 + k * 0.1, [obs(2, read=("13", 0.35), x=0.51)])
        kinds += [e.kind for e in log]
    assert decision is None and "unlocked" in kinds
    own = voter()
    for k in range(12):  # a track locked on its own reads is not unseated by the same weak reads
        read = ("19", 0.9) if k < 3 else ("13", 0.35)
        decision, _ = own.observe(k * 0.5, [obs(1, read=read)])
    assert decision is not None


def _ask_and_observe(v: IdentityVoter, track_id: int, t: float, read: tuple[str, float] | None, x: float = 0.2) -> bool:
    """One frame: ask whether the track is due for OCR; if so, fold in `read` as that OCR's result."""
    due = v.needs_read(track_id, t)
    v.observe(t, [obs(track_id, read=read if due else None, x=x), obs(99, x=0.9)])
    return due


def test_unreadable_tracks_back_off_and_a_usable_read_restores_the_rate() -> None:
    """A skater seen from behind gives nothing usable: after IDLE_GRACE such OCR runs the interval doubles
    each time (up to RECHECK_FACTOR x); one usable read brings it back to `ocr_interval_s`."""
    v = voter()
    step = 0.1
    asks = [round(k * step, 1) for k in range(60) if _ask_and_observe(v, 1, round(k * step, 1), ("7", 0.3))]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(asks)]
    assert gaps[:IDLE_GRACE] == [0.3] * IDLE_GRACE  # the grace: full rate
    assert gaps[IDLE_GRACE : IDLE_GRACE + 3] == [0.6, 1.2, 1.5]  # doubling, capped at 5 x 0.3 s
    assert max(gaps) == pytest.approx(RECHECK_FACTOR * 0.3)
    t = asks[-1] + 1.5
    assert _ask_and_observe(v, 1, t, ("19", 0.9))  # turned round: a usable read
    assert v.state.tracks[1].idle_reads == 0
    assert v.needs_read(1, t + 0.3)  # full rate again


def test_an_unreadable_track_is_read_at_full_rate_after_a_crossing() -> None:
    v = voter()
    t = 0.0
    for _ in range(IDLE_GRACE + 2):
        while not _ask_and_observe(v, 1, t, None):
            t = round(t + 0.1, 1)
        t = round(t + 0.1, 1)
    assert v.state.tracks[1].idle_reads == IDLE_GRACE + 2 and not v.needs_read(1, t + 0.3)
    v.observe(t, [obs(1, x=0.5), obs(2, x=0.51)])  # another skater's box over it: ids may have swapped
    assert v.needs_read(1, t + 0.3)


def test_repeated_reads_of_one_pose_count_as_one_view() -> None:
    """A #14 holding one pose with his "1" hidden is read "4" on every frame: seven reads in 2 s are one view of
    him, not seven, and do not outweigh the "14" he showed; the same reads spread over as many poses do."""

    def after(spacing: float) -> Decision | None:
        v = voter("4")
        v.observe(0.0, [obs(1, read=("14", 0.42))])
        decision = None
        for k in range(1, 8):
            decision, _ = v.observe(k * spacing, [obs(1, read=("4", 0.85))])
        return decision

    assert after(0.3) is None
    assert after(POSE_S) is not None


def test_a_one_digit_target_read_without_assurance_needs_more_views() -> None:
    """Reads of "4" below DOUBT_CONF are as often a #14's dropped digit: a skater read "4" at 0.65 for 2.4 s (more
    than one pose: the 5-minute seed-7 game's #14 locked on 3 s of such reads at DOUBT_WEIGHT 0.6) is not locked as
    #4, one read at 0.9 for 1.8 s is; a two-digit target's reads cannot be a dropped digit and count whole."""

    def locked(number: str, conf: float, seconds: float) -> bool:
        v = voter(number)
        decision = None
        for k in range(round(seconds / 0.3) + 1):
            decision, _ = v.observe(k * 0.3, [obs(1, read=(number, conf))])
        return decision is not None

    assert not locked("4", 0.65, 2.4)
    assert locked("4", 0.9, 1.8)
    assert locked("19", 0.65, 1.8)
    assert locked("4", 0.65, 6.0)  # a target read steadily but weakly still locks, later


def test_a_relinked_track_is_confirmed_by_weak_reads_of_a_one_digit_target() -> None:
    """Where the target was just lost, a new track's "4" at 0.65 is the target's, not a doubtful one (DOUBT_CONF):
    two such reads in two poses confirm the inherited identity."""
    v = voter("4")
    for k in range(4):
        v.observe(k * 0.5, [obs(1, read=("4", 0.9))])
    v.observe(1.6, [])
    _, log = v.observe(2.2, [obs(5, x=0.55)])
    assert log[0].kind == "relinked"
    v.observe(2.3, [obs(5, x=0.55, read=("4", 0.65))])
    v.observe(3.3, [obs(5, x=0.55, read=("4", 0.65))])
    assert v.state.tracks[5].inherited == 0.0


def test_a_superset_read_while_crossing_another_skater_is_two_numbers_not_one() -> None:
    """A #4 overlapping a #1 is read "41" off a crop holding both: no evidence that he wears 41 (or 14)."""

    def locked_after_41(other_x: float) -> bool:
        v = voter("4")
        for k in range(3):
            v.observe(float(k), [obs(1, read=("4", 0.9), x=0.3), obs(2, x=other_x)])
        decision, _ = v.observe(3.0, [obs(1, read=("41", 0.86), x=0.3), obs(2, x=other_x)])
        return decision is not None

    assert locked_after_41(other_x=0.31)  # boxes overlap: both numbers in one crop
    assert not locked_after_41(other_x=0.8)  # alone: a whole "41" refutes the #4
