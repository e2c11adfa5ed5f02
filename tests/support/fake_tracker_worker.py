"""The real tracker worker (`TrackerWorker`: fetch, heartbeat, cancel poll, checkpoints, fencing, retries)
with the detector pipeline replaced by a fast, deterministic fake. Fault tests run it as a process:
`python -m tests.support.fake_tracker_worker` with the usual SHIFTCLIPPER_* environment, plus

- SHIFTCLIPPER_FAKE_SPEED: video seconds processed per wall second (default 4);
- SHIFTCLIPPER_FAKE_EXTRA_SEGMENT=1: also report a segment with index 99 at the very end, so a test can
  tell this process's late writes from another tracker's;
- SHIFTCLIPPER_FAKE_SPANS: a file to which each job start/end is appended (`start|end job pid time`),
  from which a test computes how many jobs ran at once across all processes.

The input's file name picks a failure: `poison*` raises VideoError (permanent), `transient*` raises
RuntimeError (retried with backoff up to max_attempts).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, cast

from shiftclipper_common.service import run_service
from shiftclipper_contracts.events import Segment, TrackWork
from shiftclipper_contracts.results import TrackingStats
from shiftclipper_tracker import worker
from shiftclipper_tracker.decode import VideoError
from shiftclipper_tracker.pipeline import Cancelled, Hooks, Models, Outcome

STEP_S = 0.25
"""Video seconds per fake frame."""
CHECKPOINT_EVERY_WALL_S = 1.0


def planned_segments(duration_s: float, extra: bool = False) -> list[Segment]:
    """Shifts at [4k+1, 4k+3] s that fit in the video (a 12 s video has 3), plus index 99 when `extra`."""
    segments = [
        Segment(index=k, start_s=4.0 * k + 1.0, end_s=4.0 * k + 3.0, confidence=0.9)
        for k in range(int(duration_s // 4) + 1)
        if 4.0 * k + 3.0 <= duration_s
    ]
    if extra:
        segments.append(Segment(index=99, start_s=0.0, end_s=min(1.0, duration_s), confidence=0.1))
    return segments


def _span(kind: str, job_id: str) -> None:
    path = os.environ.get("SHIFTCLIPPER_FAKE_SPANS")
    if path:  # one short O_APPEND write per line: lines from several processes never interleave
        with open(path, "a") as out:
            out.write(f"{kind} {job_id} {os.getpid()} {time.time():.4f}\n")


def fake_track_video(
    models: object, src: str, work: TrackWork, hooks: Hooks, checkpoint: dict[str, Any] | None = None
) -> Outcome:
    _span("start", work.job_id)
    name = work.video.filename.lower()
    if name.startswith(("poison", "transient")):
        _span("end", work.job_id)
        if name.startswith("poison"):
            raise VideoError("video_unreadable", "fake tracker: the frames cannot be decoded")
        raise RuntimeError("fake tracker: transient failure")
    speed = float(os.environ.get("SHIFTCLIPPER_FAKE_SPEED", "4"))
    duration = work.video.duration_s
    plan = planned_segments(duration, os.environ.get("SHIFTCLIPPER_FAKE_EXTRA_SEGMENT") == "1")
    t = float(checkpoint["core"]["t"]) if checkpoint else 0.0
    found = [s for s in plan if checkpoint and s.end_s <= t and s.index != 99]
    last_checkpoint = time.monotonic()
    try:
        while t < duration:
            if hooks.should_stop():
                raise Cancelled()
            time.sleep(STEP_S / speed)
            t = min(duration, t + STEP_S)
            for segment in plan:
                due = segment.end_s if segment.index != 99 else duration
                if segment not in found and due <= t:
                    found.append(segment)
                    hooks.on_segment(segment)
            hooks.on_progress(t / duration, speed)
            if time.monotonic() - last_checkpoint >= CHECKPOINT_EVERY_WALL_S:
                last_checkpoint = time.monotonic()
                hooks.on_checkpoint({"core": {"t": t, "last_frame_index": int(t * work.video.fps)}, "segments": []})
    finally:
        _span("end", work.job_id)
    stats = TrackingStats(frames_decoded=int(duration / STEP_S), fps_processed=speed / STEP_S)
    return Outcome(segments=sorted(found, key=lambda s: s.index), stats=stats, timeline=[])


def main() -> None:
    worker.track_video = fake_track_video  # type: ignore[assignment]
    asyncio.run(
        run_service(
            "tracker",
            lambda config, js, store, stop: worker.TrackerWorker(config, js, store, cast(Models, None)).run(stop),
        )
    )


if __name__ == "__main__":
    main()
