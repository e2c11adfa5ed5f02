"""Exporter work that serves a job without being part of a run: the preview proxy after an upload and
the re-export after a shift review. A failure here is logged and reported (the status message says so
for a review) but never fails the job: the job's own clips and results are unaffected."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from shiftclipper_common import metrics
from shiftclipper_common.bus import read_status
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.status import StatusRecord

from .media_probe import MediaError
from .proxy import make_job_proxy
from .review import Reviewer

if TYPE_CHECKING:
    from .worker import ExporterWorker

log = structlog.get_logger()
PROJECTOR_WAIT_S = 30.0
BACKOFF_S = (1.0, 5.0, 15.0, 30.0)


async def wait_projected(
    js: JetStreamContext, kv: KeyValue, job_id: str, seq: int, timeout: float = PROJECTOR_WAIT_S
) -> StatusRecord | None:
    """The job's status once the projector has applied event `seq`: this consumer may see an event
    before the projector does. None when the job is gone (no record once the projector is past `seq`: a job
    whose creation it has not applied yet has none either, and dropping its events lost their clips);
    TimeoutError while the projector lags."""
    deadline = time.monotonic() + timeout
    while True:
        status = await read_status(kv, job_id)
        if status is not None and status.last_event_seq >= seq:
            return status
        if status is None and await projector_passed(js, seq):
            return None
        if time.monotonic() > deadline:
            raise TimeoutError(f"the projector has not applied event {seq} of job {job_id}")
        await asyncio.sleep(0.2)


async def projector_passed(js: JetStreamContext, seq: int) -> bool:
    """Whether the projector has settled every event up to `seq` (it acks an event once its status is written)."""
    info = await js.consumer_info(names.EVENTS_STREAM, names.PROJECTOR_CONSUMER)
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= seq


class SideJobs:
    def __init__(self, worker: ExporterWorker) -> None:
        self.w = worker
        self.reviewer = Reviewer(worker)

    async def handle(self, msg: Msg, event: ev.VideoUploaded | ev.ShiftEdited) -> None:
        seq = msg.metadata.sequence.stream
        source = event.key if isinstance(event, ev.VideoUploaded) else None
        while True:
            try:
                status = await wait_projected(self.w.js, self.w.status_kv, event.job_id, seq)
                if isinstance(event, ev.VideoUploaded):
                    await make_job_proxy(self.w, event, seq, status)
                else:
                    await self.reviewer.apply(event, status)
                await msg.ack()
                return
            except Exception as exc:
                if await self.w.store.is_up(source):
                    await self._failed(msg, event, exc)
                    return
                log.warning("storage unavailable, waiting", job_id=event.job_id, error=str(exc))
                await self.w.store.wait_until_up(msg.in_progress, source)

    async def _failed(self, msg: Msg, event: ev.VideoUploaded | ev.ShiftEdited, exc: Exception) -> None:
        delivered = msg.metadata.num_delivered or 1
        what = "proxy" if isinstance(event, ev.VideoUploaded) else "review"
        metrics.JOBS.labels("exporter", f"{what}_error").inc()
        log.warning(f"{what} error", job_id=event.job_id, error=str(exc), delivery=delivered)
        cause = getattr(exc, "cause", exc)
        if not isinstance(cause, MediaError) and delivered < self.w.config.max_attempts:
            await msg.nak(delay=BACKOFF_S[min(delivered - 1, len(BACKOFF_S) - 1)])
            return
        if isinstance(event, ev.ShiftEdited):
            await self.reviewer.report_failure(event, exc)
        await msg.term()
