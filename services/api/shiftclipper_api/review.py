"""Shift review use-case: accept, reject or trim one shift of a done job.

The gateway validates and publishes a `shift_edited` event; the projector applies edits in stream
order (and drops one that a concurrent edit made invalid); the exporter re-cuts what changed. The
answer is the shift as it will be in results.json (its clip URL once that clip exists).
"""

from __future__ import annotations

import math

import msgspec
import structlog

from shiftclipper_common.bus import publish_event
from shiftclipper_common.storage import ObjectNotFound
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.jobs import ShiftEdit, shift_times_problem
from shiftclipper_contracts.results import Results, ShiftResult, clip_window, shift_result
from shiftclipper_contracts.status import JobState, ShiftSummary, StatusRecord

from .auth import Principal
from .errors import ApiError, not_found
from .service import JobService

log = structlog.get_logger()
_results_decoder = msgspec.json.Decoder(Results)


def _shift(status: StatusRecord, index: int) -> ShiftSummary:
    found = next((s for s in status.shifts if s.index == index), None)
    if found is None:
        raise not_found("shift")
    return found


def _check_times(edit: ShiftEdit, shift: ShiftSummary, duration_s: float) -> tuple[float, float]:
    start = shift.start_s if edit.start_s is None else edit.start_s
    end = shift.end_s if edit.end_s is None else edit.end_s
    problem = shift_times_problem(start, end, duration_s)
    if problem:
        field, message = problem
        if field == "end_s" and edit.end_s is None:
            field = "start_s"  # only the start was sent: it is the one that does not fit
        raise ApiError(400, "invalid_times", message, f"$.{field}")
    return start, end


async def edit_shift(jobs: JobService, principal: Principal, job_id: str, index: int, edit: ShiftEdit) -> ShiftResult:
    job, _ = await jobs.visible(principal, job_id)
    status = jobs.status_of(job)
    if status.status != JobState.done:
        raise ApiError(409, "conflict", f"shifts can be reviewed once the job is done (it is {status.status})")
    shift = _shift(status, index)
    video = status.video or job.video
    start, end = _check_times(edit, shift, video.duration_s if video else math.inf)
    decision = shift.decision if edit.decision is None else edit.decision
    if (start, end, decision) != (shift.start_s, shift.end_s, shift.decision):
        shift = await _publish(jobs, status, shift, edit, (start, end, decision))
    return await _as_result(jobs, job_id, shift)


async def _publish(
    jobs: JobService,
    status: StatusRecord,
    shift: ShiftSummary,
    edit: ShiftEdit,
    wanted: tuple[float, float, str | None],
) -> ShiftSummary:
    """Publish the edit and wait for the projector; 409 when a concurrent edit made it invalid."""
    event = ev.ShiftEdited(
        job_id=status.job_id, attempt=status.attempt, index=shift.index, decision=edit.decision,
        start_s=edit.start_s, end_s=edit.end_s,
    )  # fmt: skip
    seq = await publish_event(jobs.d.js, event, None)
    await jobs.d.status.wait_for_seq(status.job_id, seq)
    log.info("shift edited", job_id=status.job_id, index=shift.index, seq=seq, decision=edit.decision)
    now = jobs.d.status.get(status.job_id)
    if now is not None and now.last_event_seq >= seq:
        applied = _shift(now, shift.index)
        if applied.edit_seq != seq:
            raise ApiError(409, "conflict", "the shift was changed concurrently; reload it and try again")
        return applied
    # The projector lags: answer with the state it will reach (the edit is stored and will apply).
    start, end, decision = wanted
    moved = (start, end) != (shift.start_s, shift.end_s)
    revision = status.review_revision + 1 if moved else shift.revision
    return msgspec.structs.replace(
        shift, start_s=start, end_s=end, decision=decision, revision=revision, clip_ready=shift.clip_ready and not moved
    )


async def _as_result(jobs: JobService, job_id: str, shift: ShiftSummary) -> ShiftResult:
    """The shift in results.json's shape: clip window with the run's pre/post roll, revisioned keys."""
    try:
        results = _results_decoder.decode(await jobs.d.store.get_bytes(names.results_key(job_id)))
    except ObjectNotFound:
        raise ApiError(404, "not_found", "no results yet") from None
    base = next((s for s in results.shifts if s.index == shift.index), None)
    pre, post = (results.export.pre_roll_s, results.export.post_roll_s) if results.export else (0.0, 0.0)
    clip_start, clip_end = clip_window(shift.start_s, shift.end_s, pre, post, results.video.duration_s)
    key = names.clip_key(job_id, shift.index, shift.revision)
    url = await jobs.d.store.presign_get(key, jobs.d.config.artifact_url_ttl_s) if shift.clip_ready else None
    return shift_result(
        job_id, shift.index, (shift.start_s, shift.end_s), shift.confidence, (clip_start, clip_end),
        revision=shift.revision, decision=shift.decision, url=url, period=base.period if base else None,
    )  # fmt: skip
