"""The exporter worker: cut a clip per `segment` event while tracking runs; on `tracking_done`, make
sure every clip exists, build the reel and write results.json.

Object keys are deterministic per (job, segment), so a redelivered event overwrites the same object
and never creates a second one; event message ids make the resulting events idempotent too.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections import defaultdict
from pathlib import Path

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from shiftclipper_common import metrics
from shiftclipper_common.bus import publish_event, read_status
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_contracts.status import ErrorInfo, JobState

from .media import thumbnail
from .media_cut import cut_clip
from .media_probe import MediaError
from .media_reel import build_reel
from .results import build_results, clip_window

log = structlog.get_logger()
BACKOFF_S = (1.0, 5.0, 15.0, 30.0)
"""nak delays for retried export errors, by delivery (the last one repeats)."""


class ExporterWorker:
    def __init__(self, config: ServiceConfig, js: JetStreamContext, store: ObjectStore) -> None:
        self.config, self.js, self.store = config, js, store
        self.status_kv: KeyValue
        self.slots = asyncio.Semaphore(config.exporter_concurrency)
        # A segment event and `tracking_done` ("cut what is missing") may be handled at once: the
        # lock makes the second wait for the first cut instead of cutting the same clip again.
        self._clip_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def run(self, stop: asyncio.Event) -> None:
        self.status_kv = await self.js.key_value(names.STATUS_BUCKET)
        sub = await self.js.pull_subscribe_bind(names.EXPORTER_CONSUMER, stream=names.EVENTS_STREAM)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                await self.slots.acquire()
                try:
                    msgs = await sub.fetch(1, timeout=2.0)
                except (TimeoutError, nats.errors.TimeoutError, nats.errors.Error):
                    self.slots.release()
                    continue
                task = asyncio.create_task(self._guarded(msgs[0]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _guarded(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self.handle(msg)
        except Exception as exc:  # e.g. NATS unreachable: the message is redelivered after AckWait
            log.warning("event handling interrupted", subject=msg.subject, error=str(exc))
        finally:
            beat.cancel()
            self.slots.release()

    async def _heartbeat(self, msg: Msg) -> None:
        """Keep a long cut, reel or storage retry from being redelivered to a second handler."""
        while True:
            await asyncio.sleep(max(1.0, self.config.ack_wait_s / 4))
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _is_live(self, event: ev.Event) -> bool:
        """False when the job was deleted, cancelled or retried since the event was published."""
        status = await read_status(self.status_kv, event.job_id)
        return (
            status is not None
            and status.attempt == event.attempt
            and status.status not in (JobState.cancelled, JobState.failed)
        )

    async def handle(self, msg: Msg) -> None:
        event = ev.decode_event(msg.data)
        if not await self._is_live(event):
            await msg.ack()
            return
        while True:
            try:
                if isinstance(event, ev.SegmentFound):
                    await self.export_segment(event.job_id, event.attempt, event.segment, event.export)
                elif isinstance(event, ev.TrackingDone):
                    await self.finish_job(event)
                await msg.ack()
                return
            except Exception as exc:
                source = event.export.video_key if isinstance(event, ev.SegmentFound | ev.TrackingDone) else None
                if await self.store.is_up(source):
                    await self._failed(msg, event, exc)
                    return
                # Storage is down: not this job's fault, so no delivery is spent. Keep the message
                # (in_progress) and try again once storage answers.
                log.warning("storage unavailable, waiting", job_id=event.job_id, error=str(exc))
                await self.store.wait_until_up(msg.in_progress, source)

    async def _failed(self, msg: Msg, event: ev.Event, exc: Exception) -> None:
        delivered = msg.metadata.num_delivered or 1
        metrics.JOBS.labels("exporter", "error").inc()
        log.warning("export error", job_id=event.job_id, error=str(exc), delivery=delivered)
        permanent = isinstance(exc, MediaError)
        if permanent or delivered >= self.config.max_attempts:
            code = exc.code if isinstance(exc, MediaError) else "export_error"
            error = ErrorInfo(code=code, message=f"export failed: {exc}")
            failed = ev.JobFailed(job_id=event.job_id, attempt=event.attempt, error=error, stage="export")
            await publish_event(self.js, failed, "export")
            await msg.term()
        else:
            await msg.nak(delay=BACKOFF_S[min(delivered - 1, len(BACKOFF_S) - 1)])

    async def export_segment(self, job_id: str, attempt: int, segment: ev.Segment, spec: ev.ExportSpec) -> None:
        key, thumb = names.clip_key(job_id, segment.index), names.thumb_key(job_id, segment.index)
        async with self._clip_locks[key]:
            await self._cut_if_missing(job_id, key, thumb, segment, spec)
        self._clip_locks.pop(key, None)
        ready = ev.ClipReady(job_id=job_id, attempt=attempt, segment_index=segment.index, key=key, thumb_key=thumb)
        await publish_event(self.js, ready, str(segment.index))

    async def _cut_if_missing(
        self, job_id: str, key: str, thumb: str, segment: ev.Segment, spec: ev.ExportSpec
    ) -> None:
        if await self.store.head(key) is None:
            start, end = clip_window(segment, spec)
            src = await self.store.presign_internal_get(spec.video_key)
            with tempfile.TemporaryDirectory(prefix="clip-") as tmp:
                clip_path, thumb_path = Path(tmp) / "clip.mp4", Path(tmp) / "thumb.jpg"
                await asyncio.to_thread(cut_clip, src, str(clip_path), start, end, spec.clip_mode)
                await asyncio.to_thread(thumbnail, str(clip_path), str(thumb_path), min(1.0, (end - start) / 2))
                await self.store.put_file(thumb, thumb_path, "image/jpeg")
                await self.store.put_file(key, clip_path, "video/mp4")  # last: its presence means "done"
            metrics.JOBS.labels("exporter", "clip").inc()
            log.info("clip cut", job_id=job_id, segment=segment.index, start_s=start, end_s=end)

    async def finish_job(self, done: ev.TrackingDone) -> None:
        for segment in done.segments:  # redelivered or lost segment events: cut what is missing
            await self.export_segment(done.job_id, done.attempt, segment, done.export)
        reel = None
        if done.export.reel and done.segments:
            reel = await self._build_reel(done)
        results = build_results(done, reel)
        key = names.results_key(done.job_id)
        await self.store.put_bytes(key, msgspec.json.encode(results), "application/json")
        finished = ev.ExportDone(
            job_id=done.job_id, attempt=done.attempt, results_key=key, shift_count=results.shift_count,
            toi_s=results.toi_s, reel_key=reel[0] if reel else None,
        )  # fmt: skip
        await publish_event(self.js, finished, "")
        metrics.JOBS.labels("exporter", "export_done").inc()
        log.info("export done", job_id=done.job_id, shifts=results.shift_count)

    async def _build_reel(self, done: ev.TrackingDone) -> tuple[str, float]:
        key = names.reel_key(done.job_id)
        with tempfile.TemporaryDirectory(prefix="reel-") as tmp:
            paths = []
            for segment in done.segments:
                path = Path(tmp) / f"{segment.index:03d}.mp4"
                await self.store.download(names.clip_key(done.job_id, segment.index), path)
                paths.append(str(path))
            out = Path(tmp) / "reel.mp4"
            result = await asyncio.to_thread(build_reel, paths, str(out))
            await self.store.put_file(key, out, "video/mp4")
        return key, result.duration_s
