"""What `bench.accuracy.replay` replays: the observations of a game, frame by frame."""

from __future__ import annotations

import msgspec

from shiftclipper_tracker.core.observations import FrameObs


class Recording(msgspec.Struct):
    fps: float
    duration_s: float
    detect_fps: float
    frames: list[FrameObs]
    live: bool = False
    """True: the frames exactly as a pipeline run fed its core (`bench.accuracy.run --record`): a read only where
    that run's core asked for one, and the frames it skipped absent, so replay skips none itself. Minutes to
    make where `record` takes hours, but a core that asks for other reads is shown only the ones asked then."""
    preset: str = "broadcast"
    """The camera preset the frames were tracked with; replay uses its tuning unless `--setup` overrides it."""
