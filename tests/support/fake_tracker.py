"""Publish what a tracker would publish for a job, so exporter and projector tests need no detector."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext

from shiftclipper_common.bus import publish_event
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.job_setup import JobSetup
from shiftclipper_contracts.results import Target

SEGMENTS = [
    ev.Segment(index=0, start_s=2.0, end_s=4.0, confidence=0.9),
    ev.Segment(index=1, start_s=7.0, end_s=10.0, confidence=0.8),
]
"""Two shifts in a >= 12 s video; with 1 s pre/post roll their clips are [1, 5] and [6, 11]."""


def export_spec(job_id: str, video_info: dict[str, Any]) -> ev.ExportSpec:
    work = ev.TrackWork(
        job_id=job_id,
        attempt=1,
        video_key=names.input_key(job_id, ".mp4"),
        video=ev.VideoInfo(**video_info),
        setup=JobSetup(jersey_number="19", jersey_color="#ff0000", pre_roll_s=1.0, post_roll_s=1.0),
    )
    return ev.ExportSpec.from_work(work)


async def publish_segments(js: JetStreamContext, job_id: str, spec: ev.ExportSpec, copies: int = 1) -> None:
    """Each segment event `copies` times (a retried publish: JetStream keeps one per Nats-Msg-Id)."""
    for segment in SEGMENTS:
        for _ in range(copies):
            found = ev.SegmentFound(job_id=job_id, attempt=1, segment=segment, export=spec)
            await publish_event(js, found, str(segment.index))


async def publish_done(js: JetStreamContext, job_id: str, spec: ev.ExportSpec) -> None:
    target = Target(number="19", color="#ff0000", camera_mode="broadcast")
    done = ev.TrackingDone(
        job_id=job_id, attempt=1, segments=SEGMENTS, stats=ev.TrackingStats(), export=spec, target=target, mode="shifts"
    )
    await publish_event(js, done, "")
