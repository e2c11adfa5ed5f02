"""The exporter worker: cut a clip per `segment` event while tracking runs; on `tracking_done`, make
sure every clip exists, build the reel and write results.json.

Object keys are deterministic per (job, segment), so a redelivered event overwrites the same object
and never creates a second one; event message ids make the resulting events idempotent too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from shiftclipper_common import metrics
from shiftclipper_common.bus import publish_event
from shiftclipper_common.storage import ObjectStore, is_transient_read_error
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_contracts.provision import max_deliveries
from shiftclipper_contracts.status import ErrorInfo, JobState

from .media import thumbnail
from .media_cut import cut_clip
from .media_probe import MediaError
from .media_reel import build_reel
from .media_titles import title_lines
from .results import build_results, clip_window
from .side_jobs import SideJobs, wait_projected

log = structlog.get_logger()
BACKOFF_S = (1.0, 5.0, 15.0, 30.0)
"""nak delays for retried export errors, by delivery (the last one repeats)."""


class ClipError(Exception):
    """Making one clip failed: carries the clip's index so the job's error names it."""

    def __init__(self, index: int, start_s: float, end_s: float, cause: Exception) -> None:
        super().__init__(f"clip {index} ({start_s:.2f}-{end_s:.2f} s): {cause}")
        self.index, self.cause = index, cause


class ExporterWorker:
    def __init__(self, config: ServiceConfig, js: JetStreamContext, store: ObjectStore) -> None:
        self.config, self.js, self.store = config, js, store
        self.status_kv: KeyValue
        self.slots = asyncio.Semaphore(config.exporter_concurrency)
        # A segment event and `tracking_done` ("cut what is missing") may be handled at once: the
        # lock makes the second wait for the first cut instead of cutting the same clip again.
        self._clip_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._lock_users: Counter[str] = Counter()
        self.side = SideJobs(self)

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
            if (msg.metadata.num_delivered or 1) >= max_deliveries(self.config):
                await self._give_up(msg, exc)
        finally:
            beat.cancel()
            self.slots.release()

    async def _give_up(self, msg: Msg, exc: Exception) -> None:
        """The last delivery JetStream makes was interrupted too (the projector lagging past PROJECTOR_WAIT_S on each,
        NATS failing under it): fail the job rather than leave it `exporting` for ever. A lost segment event needs
        nothing: `tracking_done` cuts what is missing."""
        try:
            event = ev.decode_event(msg.data)
            if isinstance(event, ev.TrackingDone):
                error = ErrorInfo(code="export_error", message=f"export interrupted on every delivery: {exc}")
                failed = ev.JobFailed(job_id=event.job_id, attempt=event.attempt, error=error, stage="export")
                await publish_event(self.js, failed, "export")
            log.error("event dropped after its last delivery", job_id=event.job_id, kind=type(event).__name__)
            await msg.term()
        except Exception as again:  # NATS still down: nothing left to try; the log says which job
            log.error("giving up on an event failed", subject=msg.subject, error=str(again))

    async def _heartbeat(self, msg: Msg) -> None:
        """Keep a long cut, reel or storage retry from being redelivered to a second handler."""
        while True:
            await asyncio.sleep(max(1.0, self.config.ack_wait_s / 4))
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _is_live(self, event: ev.Event, seq: int) -> bool:
        """False when the job was deleted, cancelled or retried since the event was published, or when
        the event comes from a tracker whose delivery was superseded (fenced, as in the projector).
        Judged on a record that includes the event itself: this consumer may see it before the projector."""
        status = await wait_projected(self.js, self.status_kv, event.job_id, seq)
        return (
            status is not None
            and status.attempt == event.attempt
            and event.delivery >= status.delivery
            and status.status not in (JobState.cancelled, JobState.failed)
        )

    async def handle(self, msg: Msg) -> None:
        event = ev.decode_event(msg.data)
        if isinstance(event, ev.VideoUploaded | ev.ShiftEdited):
            await self.side.handle(msg, event)  # own liveness and error policy: never fails the job
            return
        if not await self._is_live(event, msg.metadata.sequence.stream):
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
        cause = exc.cause if isinstance(exc, ClipError) else exc
        permanent = isinstance(cause, MediaError) and not is_transient_read_error(cause)
        if permanent or delivered >= self.config.max_attempts:
            code = cause.code if isinstance(cause, MediaError) else "export_error"
            error = ErrorInfo(code=code, message=f"export failed: {exc}")
            clip = exc.index if isinstance(exc, ClipError) else None
            failed = ev.JobFailed(
                job_id=event.job_id, attempt=event.attempt, error=error, stage="export", clip_index=clip
            )
            await publish_event(self.js, failed, "export")
            await msg.term()
        else:
            await msg.nak(delay=BACKOFF_S[min(delivered - 1, len(BACKOFF_S) - 1)])

    async def export_segment(
        self, job_id: str, attempt: int, segment: ev.Segment, spec: ev.ExportSpec, revision: int = 0
    ) -> None:
        """Cut the clip of `segment` (a reviewed shift's `revision` gets its own key) unless it exists."""
        key, thumb = names.clip_key(job_id, segment.index, revision), names.thumb_key(job_id, segment.index, revision)
        async with self.clip_lock(key):
            await self._cut_if_missing(job_id, key, thumb, segment, spec)
        ready = ev.ClipReady(
            job_id=job_id, attempt=attempt, segment_index=segment.index, key=key, thumb_key=thumb, revision=revision
        )
        await publish_event(self.js, ready, f"{segment.index}.r{revision}" if revision else str(segment.index))

    @contextlib.asynccontextmanager
    async def clip_lock(self, key: str) -> AsyncIterator[None]:
        """One writer per object key in this process (a later one waits, then sees the object). The lock
        is dropped when its last user leaves, never while another one waits on it."""
        self._lock_users[key] += 1
        try:
            async with self._clip_locks[key]:
                yield
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:
                del self._lock_users[key], self._clip_locks[key]

    async def _cut_if_missing(
        self, job_id: str, key: str, thumb: str, segment: ev.Segment, spec: ev.ExportSpec
    ) -> None:
        start, end = clip_window(segment, spec)
        made_for = {"window": f"{start:.3f}-{end:.3f}", "mode": spec.clip_mode, "source": spec.video_key}
        existing = await self.store.head(key)
        # A redelivered event finds its clip and stops here; a retry whose new setup moved the shift (or changed
        # the clip mode) finds a clip made for another window and cuts it again under the same key.
        if existing is None or existing.get("Metadata", {}) != made_for:
            src = await self.store.presign_internal_get(spec.video_key)
            with tempfile.TemporaryDirectory(prefix="clip-") as tmp:
                clip_path, thumb_path = Path(tmp) / "clip.mp4", Path(tmp) / "thumb.jpg"
                try:
                    await asyncio.to_thread(cut_clip, src, str(clip_path), start, end, spec.clip_mode)
                    await asyncio.to_thread(thumbnail, str(clip_path), str(thumb_path), min(1.0, (end - start) / 2))
                    await self.store.put_file(thumb, thumb_path, "image/jpeg")
                    await self.store.put_file(key, clip_path, "video/mp4", made_for)  # last: its presence means "done"
                except Exception as exc:
                    raise ClipError(segment.index, start, end, exc) from exc
            metrics.JOBS.labels("exporter", "clip").inc()
            log.info("clip cut", job_id=job_id, segment=segment.index, key=key, start_s=start, end_s=end)

    async def finish_job(self, done: ev.TrackingDone) -> None:
        for segment in done.segments:  # redelivered or lost segment events: cut what is missing
            await self.export_segment(done.job_id, done.attempt, segment, done.export)
        reel = None
        if done.export.reel and done.segments:
            keys = [names.clip_key(done.job_id, s.index) for s in done.segments]
            titles = [title_lines(s.index, s.start_s, s.end_s) for s in done.segments]
            reel = await self.build_reel_object(
                done.job_id, keys, names.reel_key(done.job_id), titles if done.export.reel_titles else None
            )
        # Kept for re-exports after a shift review (they need the spec, target and stats of this run).
        await self.store.put_bytes(names.export_state_key(done.job_id), msgspec.json.encode(done), "application/json")
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

    async def build_reel_object(
        self, job_id: str, clip_keys: list[str], key: str, titles: list[list[str]] | None = None
    ) -> tuple[str, float]:
        """Join the clips (in order, each after its title card when `titles` are given) into the reel
        object `key`; returns the key and its duration."""
        with tempfile.TemporaryDirectory(prefix="reel-") as tmp:
            paths = []
            for i, clip_key in enumerate(clip_keys):
                path = Path(tmp) / f"{i:03d}.mp4"
                await self.store.download(clip_key, path)
                paths.append(str(path))
            out = Path(tmp) / "reel.mp4"
            result = await asyncio.to_thread(functools.partial(build_reel, paths, str(out), titles=titles))
            await self.store.put_file(key, out, "video/mp4")
        log.info("reel built", job_id=job_id, key=key, clips=len(clip_keys), mode=result.mode)
        return key, result.duration_s
