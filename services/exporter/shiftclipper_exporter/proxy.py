"""The web UI's preview: a small H.264 copy of each upload, made in the background after the upload
(never inside the upload request), to `names.proxy_key`, announced with a `proxy_ready` event."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from shiftclipper_common import metrics
from shiftclipper_common.bus import publish_event, read_status
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.status import StatusRecord

from .media import make_proxy

if TYPE_CHECKING:
    from .worker import ExporterWorker

log = structlog.get_logger()


async def make_job_proxy(
    worker: ExporterWorker, event: ev.VideoUploaded, seq: int, status: StatusRecord | None
) -> None:
    """Skipped when the job is gone or its video was replaced since (that upload has its own event)."""
    key = names.proxy_key(event.job_id)
    async with worker.clip_lock(key):  # a quick re-upload: one proxy at a time, and the newest wins
        if status is not None:
            status = await read_status(worker.status_kv, event.job_id)
        if status is None or status.video != event.video:
            log.info("proxy skipped: upload superseded", job_id=event.job_id)
            return
        src = await worker.store.presign_internal_get(event.key)
        with tempfile.TemporaryDirectory(prefix="proxy-") as tmp:
            out = Path(tmp) / "proxy.mp4"
            await asyncio.to_thread(make_proxy, src, str(out))
            await worker.store.put_file(key, out, "video/mp4")
    metrics.JOBS.labels("exporter", "proxy").inc()
    log.info("proxy made", job_id=event.job_id, key=key, bytes=event.video.size)
    # The upload event's stream sequence tells two uploads apart, and survives a redelivery.
    ready = ev.ProxyReady(job_id=event.job_id, attempt=event.attempt, key=key, video=event.video)
    await publish_event(worker.js, ready, str(seq))
