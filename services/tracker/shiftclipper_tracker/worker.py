"""The tracker worker: pull tracking work, heartbeat, honour cancel, checkpoint, publish events.

Failure policy: an unreadable video fails at once (retrying cannot help); any other error is retried
with backoff (`nak(delay=)`) until `max_attempts` deliveries, then the job is failed and the work
message terminated. A redelivered job resumes from its last checkpoint.

Fencing: every event carries the work message's delivery count. A tracker paused past AckWait (GC pause,
SIGSTOP, a frozen VM) loses its message to a later delivery; the projector and the exporter then ignore
its events, and the worker itself notices (heartbeat, and a check before it acks, naks or fails) and
lets go without touching the message, which now belongs to the newer delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from shiftclipper_common import metrics
from shiftclipper_common.bus import publish_event, read_status
from shiftclipper_common.storage import ObjectStore, is_transient_read_error
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_contracts.results import Target
from shiftclipper_contracts.status import ErrorInfo, JobState, StatusRecord

from .decode import VideoError
from .overlay import OverlayWriter
from .pipeline import Cancelled, Hooks, Models, Outcome, track_video

log = structlog.get_logger()
_work_decoder = msgspec.json.Decoder(ev.TrackWork)
CANCEL_POLL_S = 0.5
PROJECTION_WAIT_S = 30.0
"""How long work may wait for the projector to show its attempt before it is nak'ed (one delivery spent)."""
BACKOFF_S = (2.0, 10.0, 30.0, 60.0)
"""nak delays for retried tracking errors, by delivery (the last one repeats)."""


class Superseded(Exception):
    """This delivery's work went to a newer delivery (we were paused past AckWait)."""


class TrackerWorker:
    def __init__(self, config: ServiceConfig, js: JetStreamContext, store: ObjectStore, models: Models) -> None:
        self.config, self.js, self.store, self.models = config, js, store, models
        self.name = f"tracker@{socket.gethostname()}"
        self.status_kv: KeyValue
        self.checkpoints: KeyValue

    async def run(self, stop: asyncio.Event) -> None:
        self.status_kv = await self.js.key_value(names.STATUS_BUCKET)
        self.checkpoints = await self.js.key_value(names.CHECKPOINT_BUCKET)
        sub = await self.js.pull_subscribe_bind(names.TRACKER_CONSUMER, stream=names.WORK_STREAM)
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(1, timeout=2.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as exc:
                    log.warning("fetch failed", error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    try:
                        await self.handle(msg)
                    except Exception as exc:  # e.g. NATS gone mid-job: redelivered after AckWait, resumed
                        log.exception("work handling interrupted", error=str(exc))
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _status(self, job_id: str) -> StatusRecord | None:
        return await read_status(self.status_kv, job_id)

    async def handle(self, msg: Msg) -> None:
        work = _work_decoder.decode(msg.data)
        delivered = msg.metadata.num_delivered or 1
        if delivered > 1:
            metrics.REDELIVERIES.labels("tracker").inc()
        bound = log.bind(job_id=work.job_id, attempt=work.attempt, delivery=delivered)
        if not await self._admit(msg, work, delivered, bound):
            return
        started = ev.TrackingStarted(job_id=work.job_id, attempt=work.attempt, delivery=delivered, worker=self.name)
        await publish_event(self.js, started, str(delivered))
        bound.info("tracking started")
        try:
            with metrics.IN_FLIGHT.labels("tracker").track_inprogress():
                outcome = await self._track_through_outages(msg, work)
            await self._check_lease(work, delivered)
        except Superseded:
            # Not ours any more: no event (it would be fenced anyway) and no ack/nak/term, which could
            # settle the newer delivery's message.
            bound.warning("work superseded by a newer delivery; letting go")
            return
        except Cancelled:
            if await self._superseded(work, delivered):
                bound.warning("work superseded by a newer delivery; letting go")
                return
            metrics.JOBS.labels("tracker", "cancelled").inc()
            cancelled = ev.JobCancelled(job_id=work.job_id, attempt=work.attempt, delivery=delivered)
            await publish_event(self.js, cancelled, "")
            await msg.ack()
            bound.info("tracking cancelled")
            return
        except VideoError as exc:
            if is_transient_read_error(exc):  # storage hiccup, not the video: retried below
                bound.warning("video read failed on a storage error", error=str(exc))
                await self._retry_or_fail(msg, work, delivered, exc)
                return
            if not await self._superseded(work, delivered):
                await self._fail(msg, work, exc.code, exc.message)
            return
        except Exception as exc:
            bound.exception("tracking error")
            await self._retry_or_fail(msg, work, delivered, exc)
            return
        await self._finish(work, outcome, delivered)
        await msg.ack()
        await self._after_done(work, outcome, bound)

    async def _admit(self, msg: Msg, work: ev.TrackWork, delivered: int, bound: Any) -> bool:
        """Whether this delivery is to be tracked now; if not, the message has been settled (or is kept waiting
        for the projector) here."""
        status = await self._status(work.job_id)
        if status is not None and status.attempt < work.attempt:
            # The projector has not applied this attempt's `queued` yet (it lags after a NATS restart).
            # Wait here, keeping the message: a nak would spend a delivery each time, and after
            # max_deliver of them JetStream never delivers the work again (found by the chaos test).
            status = await self._wait_projected(msg, work)
            if status is None or status.attempt < work.attempt:
                await msg.nak(delay=PROJECTION_WAIT_S)
                return False
        if status is None or status.attempt > work.attempt or status.status == JobState.cancelled:
            bound.info("work skipped: job deleted, cancelled or superseded")
            await msg.ack()
            return False
        if delivered > self.config.max_attempts:
            await self._fail(msg, work, "max_attempts", f"tracking failed {delivered - 1} times")
            return False
        return True

    async def _after_done(self, work: ev.TrackWork, outcome: Outcome, bound: Any) -> None:
        """Housekeeping once a job's result is published and its message acked: checkpoints, metrics, the log."""
        with contextlib.suppress(Exception):
            await self.checkpoints.purge(work.job_id)
        metrics.JOBS.labels("tracker", "done").inc()
        metrics.TRACK_FPS.set(outcome.stats.fps_processed)
        for stage, seconds in outcome.stats.stage_seconds.items():
            metrics.STAGE_SECONDS.labels(stage).observe(seconds)
        bound.info("tracking done", segments=len(outcome.segments))

    async def _wait_projected(self, msg: Msg, work: ev.TrackWork) -> StatusRecord | None:
        """The job's status once it shows this work's attempt, or the last one read after PROJECTION_WAIT_S."""
        deadline = asyncio.get_running_loop().time() + PROJECTION_WAIT_S
        beat_every, last_beat = max(1.0, self.config.ack_wait_s / 4), 0.0
        status: StatusRecord | None = None
        while (now := asyncio.get_running_loop().time()) < deadline:
            with contextlib.suppress(Exception):
                status = await self._status(work.job_id)
                if status is None or status.attempt >= work.attempt:
                    return status
            if now - last_beat >= beat_every:
                last_beat = now
                with contextlib.suppress(Exception):
                    await msg.in_progress()
            await asyncio.sleep(0.2)
        return status

    async def _retry_or_fail(self, msg: Msg, work: ev.TrackWork, delivered: int, exc: Exception) -> None:
        """A transient error: nak with backoff until `max_attempts` deliveries, then fail the job."""
        if await self._superseded(work, delivered):
            return
        if delivered >= self.config.max_attempts:
            await self._fail(msg, work, "tracking_error", f"{exc.__class__.__name__}: {exc}")
        else:
            await msg.nak(delay=BACKOFF_S[min(delivered - 1, len(BACKOFF_S) - 1)])

    async def _superseded(self, work: ev.TrackWork, delivered: int) -> bool:
        """Whether a newer delivery (or attempt) of this work has started: then we must let go."""
        with contextlib.suppress(Exception):
            status = await self._status(work.job_id)
            return status is not None and (status.attempt, status.delivery) > (work.attempt, delivered)
        return False  # status unreadable: carry on; the projector still fences our events

    async def _check_lease(self, work: ev.TrackWork, delivered: int) -> None:
        if await self._superseded(work, delivered):
            raise Superseded

    async def _track_through_outages(self, msg: Msg, work: ev.TrackWork) -> Outcome:
        """Track; when it fails while object storage is down (an unreadable video then proves nothing),
        wait for storage, keeping the message, and resume from the checkpoint without spending a delivery."""
        while True:
            try:
                return await self._track(msg, work)
            except Cancelled:
                raise
            except Exception as exc:
                if await self.store.is_up(work.video_key):
                    raise
                log.warning("storage unavailable, waiting", job_id=work.job_id, error=str(exc))
                await self.store.wait_until_up(msg.in_progress, work.video_key)

    async def _track(self, msg: Msg, work: ev.TrackWork) -> Outcome:
        loop = asyncio.get_running_loop()
        stop_flag = asyncio.Event()
        export = ev.ExportSpec.from_work(work)
        delivered = msg.metadata.num_delivered or 1

        def call(coro: Any) -> Any:  # from the tracking thread into the event loop
            return asyncio.run_coroutine_threadsafe(coro, loop).result()

        def on_segment(segment: ev.Segment) -> None:
            event = ev.SegmentFound(
                job_id=work.job_id, attempt=work.attempt, delivery=delivered, segment=segment, export=export
            )
            call(publish_event(self.js, event, str(segment.index)))

        def on_progress(fraction: float, speed: float) -> None:
            remaining = (1 - fraction) * work.video.duration_s / speed if speed > 0 else None
            event = ev.TrackingProgress(
                job_id=work.job_id, attempt=work.attempt, delivery=delivered, progress=fraction, eta_s=remaining,
                fps=speed * work.video.fps,
            )  # fmt: skip
            try:  # best effort: the next tick carries the same information
                call(publish_event(self.js, event, None))
            except Exception as exc:
                log.warning("progress not published", job_id=work.job_id, error=str(exc))

        def on_checkpoint(state: dict[str, Any]) -> None:
            if stop_flag.is_set():  # cancelled or superseded: never overwrite the newer delivery's checkpoint
                return
            try:  # best effort: a missed checkpoint only means resuming from an earlier one
                call(self.checkpoints.put(work.job_id, msgspec.json.encode({"attempt": work.attempt, **state})))
            except Exception as exc:
                log.warning("checkpoint not saved", job_id=work.job_id, error=str(exc))

        checkpoint = await self._checkpoint(work)
        url = await self.store.presign_internal_get(work.video_key)
        with tempfile.TemporaryDirectory(prefix="sc-overlay-") as tmp:
            overlay = self._open_overlay(work, Path(tmp) / "overlay.mp4")
            hooks = Hooks(
                on_segment, on_progress, on_checkpoint, stop_flag.is_set, self.config.checkpoint_every_s, overlay
            )
            watcher = asyncio.create_task(self._heartbeat(msg, work, delivered, stop_flag))
            try:
                outcome = await asyncio.to_thread(track_video, self.models, url, work, hooks, checkpoint)
            finally:
                watcher.cancel()
                if overlay is not None:
                    overlay.close()
            if overlay is not None:
                outcome.overlay_key = names.debug_key(work.job_id, "overlay.mp4")
                await self.store.put_file(outcome.overlay_key, Path(tmp) / "overlay.mp4", "video/mp4")
            return outcome

    @staticmethod
    def _open_overlay(work: ev.TrackWork, path: Path) -> OverlayWriter | None:
        """The debug overlay, when asked. A job resumed from a checkpoint draws only the rest of the video."""
        if not work.setup.debug_overlay:
            return None
        fps = min(work.video.fps, work.setup.effective_tuning().detect_fps)
        return OverlayWriter(str(path), fps)

    async def _checkpoint(self, work: ev.TrackWork) -> dict[str, Any] | None:
        try:
            entry = await self.checkpoints.get(work.job_id)
        except KeyNotFoundError:
            return None
        state = msgspec.json.decode(entry.value or b"{}")
        if state.get("attempt") != work.attempt:
            return None
        log.info("resuming from checkpoint", job_id=work.job_id, frame=state["core"].get("last_frame_index"))
        return state

    async def _heartbeat(self, msg: Msg, work: ev.TrackWork, delivered: int, stop_flag: asyncio.Event) -> None:
        """Keep the message ours (in_progress); notice a cancel or a newer delivery within CANCEL_POLL_S."""
        beat_every = max(1.0, self.config.ack_wait_s / 4)
        since_beat = 0.0
        while True:
            await asyncio.sleep(CANCEL_POLL_S)
            since_beat += CANCEL_POLL_S
            with contextlib.suppress(Exception):
                status = await self._status(work.job_id)
                if status is None or status.status == JobState.cancelled or status.attempt > work.attempt:
                    stop_flag.set()
                elif status.attempt == work.attempt and status.delivery > delivered:
                    stop_flag.set()  # superseded: handle() sees it and lets go
                    return
            if since_beat >= beat_every:
                since_beat = 0.0
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _finish(self, work: ev.TrackWork, outcome: Outcome, delivered: int) -> None:
        timeline_key = names.debug_key(work.job_id, "timeline.json")
        await self.store.put_bytes(timeline_key, msgspec.json.encode(outcome.timeline), "application/json")
        setup = work.setup
        target = Target(
            number=setup.jersey_number,
            color=setup.jersey_color,
            opponent_color=setup.opponent_color,
            camera_mode=setup.camera_mode.value,
        )
        done = ev.TrackingDone(
            job_id=work.job_id, attempt=work.attempt, delivery=delivered, segments=outcome.segments,
            stats=outcome.stats, export=ev.ExportSpec.from_work(work), target=target, mode=setup.mode.value,
            timeline_key=timeline_key, overlay_key=outcome.overlay_key,
        )  # fmt: skip
        await publish_event(self.js, done, "")

    async def _fail(self, msg: Msg, work: ev.TrackWork, code: str, message: str) -> None:
        error = ErrorInfo(code=code, message=message)
        delivered = msg.metadata.num_delivered or 1
        failed = ev.JobFailed(job_id=work.job_id, attempt=work.attempt, delivery=delivered, error=error, stage="track")
        await publish_event(self.js, failed, "")
        await msg.term()
        metrics.JOBS.labels("tracker", "failed").inc()
        log.warning("job failed", job_id=work.job_id, code=code, message=message)
