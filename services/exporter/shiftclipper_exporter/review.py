"""Re-export after a shift review: bring clips, reel and results.json up to the review state.

The projector is the authority: it applies `shift_edited` events in stream order and numbers the
state (`review_revision`). Here the exporter reconciles with that state, whichever edit event it is
handling: only clips whose window changed are cut (each revision has its own key, so a published
object never changes), the reel is rebuilt under a revisioned key when its parts changed, and
results.json is rewritten. Reconciling is idempotent, so redeliveries and replicas are safe; a
reconciler re-reads the state after writing and goes again if it moved meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec
import structlog

from shiftclipper_common import metrics
from shiftclipper_common.bus import publish_event, read_status
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.results import Results
from shiftclipper_contracts.status import ErrorInfo, JobState, ShiftSummary, StatusRecord

from .media_probe import MediaError
from .media_titles import title_lines
from .results import build_results, reel_parts, reviewed_segment

if TYPE_CHECKING:
    from .worker import ExporterWorker

log = structlog.get_logger()
_done_decoder = msgspec.json.Decoder(ev.TrackingDone)
_results_decoder = msgspec.json.Decoder(Results)


def _live(status: StatusRecord | None, event: ev.ShiftEdited) -> bool:
    """Only a done job of the edit's attempt is re-exported (a retry or a delete abandons it)."""
    return status is not None and status.attempt == event.attempt and status.status == JobState.done


class Reviewer:
    def __init__(self, worker: ExporterWorker) -> None:
        self.w = worker
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def apply(self, event: ev.ShiftEdited, status: StatusRecord | None) -> None:
        async with self._locks[event.job_id]:  # one reconciler per job in this process
            status = await read_status(self.w.status_kv, event.job_id) if status else None
            exported = status.review_exported if status else 0
            while status is not None and _live(status, event) and status.review_revision > exported:
                exported = await self._export(status)
                status = await read_status(self.w.status_kv, event.job_id)

    async def _export(self, status: StatusRecord) -> int:
        job_id, revision = status.job_id, status.review_revision
        done = _done_decoder.decode(await self.w.store.get_bytes(names.export_state_key(job_id)))
        before = _results_decoder.decode(await self.w.store.get_bytes(names.results_key(job_id)))
        review = {s.index: s for s in status.shifts}
        for segment in done.segments:
            cut, rev = reviewed_segment(segment, review.get(segment.index))
            await self.w.export_segment(job_id, status.attempt, cut, done.export, rev)  # no-op when it exists
        reel = await self._reel(done, review, before, revision)
        results = build_results(done, reel, review)
        key = names.results_key(job_id)
        await self.w.store.put_bytes(key, msgspec.json.encode(results), "application/json")
        exported = ev.ReviewExported(
            job_id=job_id, attempt=status.attempt, revision=revision, results_key=key,
            shift_count=results.shift_count, toi_s=results.toi_s, reel_key=reel[0] if reel else None,
        )  # fmt: skip
        await publish_event(self.w.js, exported, f"r{revision}")
        metrics.JOBS.labels("exporter", "review").inc()
        log.info("review exported", job_id=job_id, revision=revision, shifts=results.shift_count)
        return revision

    async def _reel(
        self, done: ev.TrackingDone, review: Mapping[int, ShiftSummary], before: Results, revision: int
    ) -> tuple[str, float] | None:
        """The reel of the shifts not rejected; the previous one is kept when its parts are the same."""
        parts = reel_parts(done, review)
        if not done.export.reel or not parts:
            return None
        old_parts = [(s.index, s.revision) for s in before.shifts if s.decision != "rejected"]
        if before.reel is not None and parts == old_parts:
            return before.reel.key, before.reel.duration_s
        keys = [names.clip_key(done.job_id, index, rev) for index, rev in parts]
        segments = {s.index: reviewed_segment(s, review.get(s.index))[0] for s in done.segments}
        titles = [title_lines(i, segments[i].start_s, segments[i].end_s) for i, _ in parts]
        key = names.reel_key(done.job_id, revision)
        return await self.w.build_reel_object(done.job_id, keys, key, titles if done.export.reel_titles else None)

    async def report_failure(self, event: ev.ShiftEdited, exc: Exception) -> None:
        """Give up on this review state: the status says why; results.json keeps the previous state."""
        status = await read_status(self.w.status_kv, event.job_id)
        if not _live(status, event):
            return
        assert status is not None
        cause = getattr(exc, "cause", exc)
        code = cause.code if isinstance(cause, MediaError) else "export_error"
        failed = ev.ReviewExported(
            job_id=event.job_id, attempt=event.attempt, revision=status.review_revision,
            results_key=names.results_key(event.job_id), shift_count=0, toi_s=0.0, reel_key=None,
            error=ErrorInfo(code=code, message=str(exc)),
        )  # fmt: skip
        await publish_event(self.w.js, failed, f"r{status.review_revision}.error")
