"""The exporter against a projector that has not yet applied a job's creation (real NATS + S3): the job's events
must wait for it, not be dropped as a deleted job's. Found by the full suite with a benchmark on the same cores:
the projector lagged behind the media cases' back-to-back `job_created` and `segment` events, and 9 of 13 clips
were never cut."""

from __future__ import annotations

import asyncio
import secrets

from shiftclipper_common.bus import connect, publish_event, read_status
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_exporter.media import probe
from shiftclipper_exporter.media_synth import make_numbered_video
from shiftclipper_projector.consumer import run_projector
from tests.integration.test_exporter_media import clip_from_s3
from tests.support.services import service_env, start_service

PROJECTOR_LATE_S = 3.0


async def test_a_segment_seen_before_the_projector_created_its_job_is_still_cut(infra, tmp_path) -> None:
    src = make_numbered_video(str(tmp_path / "src.mp4"), frames=90, fps=30, gop=30, audio=False)
    exporter = start_service("exporter", service_env(infra.config), tmp_path)
    nc, js = await connect(infra.config, "lag-test")
    store = await ObjectStore(infra.config).start()
    stop = asyncio.Event()
    projector = None
    try:
        job_id = secrets.token_hex(8)
        key = names.input_key(job_id, ".mp4")
        await store.put_file(key, src, "video/mp4")
        spec = ev.ExportSpec(
            video_key=key, video=probe(src), pre_roll_s=0.0, post_roll_s=0.0, clip_mode="smart", reel=False
        )
        segment = ev.Segment(index=0, start_s=0.5, end_s=2.5, confidence=1.0)
        await publish_event(js, ev.JobCreated(job_id=job_id, name="lag", owner="alice"), "")
        await publish_event(js, ev.JobQueued(job_id=job_id, attempt=1), "")
        await publish_event(js, ev.SegmentFound(job_id=job_id, attempt=1, segment=segment, export=spec), "0")
        await asyncio.sleep(PROJECTOR_LATE_S)  # the exporter has the segment; no status record exists yet
        projector = asyncio.create_task(run_projector(js, stop))
        await _projected(js, job_id)  # the job's record exists; from here the status must show the clip
        clip = await clip_from_s3(js, store, job_id, tmp_path / "clip.mp4", timeout=60.0)
        assert clip.stat().st_size > 0
    finally:
        stop.set()
        if projector is not None:
            await projector
        await store.close()
        await nc.close()
        exporter.stop()


async def _projected(js, job_id: str, timeout: float = 30.0) -> None:
    kv = await js.key_value(names.STATUS_BUCKET)
    deadline = asyncio.get_running_loop().time() + timeout
    while await read_status(kv, job_id) is None:
        assert asyncio.get_running_loop().time() < deadline, "the projector never created the job"
        await asyncio.sleep(0.2)
