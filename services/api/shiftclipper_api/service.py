"""Job lifecycle use-cases. HTTP handlers stay thin; everything a job goes through is here.

The gateway writes job definitions (jobs KV) and emits events; it never writes status: after each
event it waits until the projector's record shows it, so a client reads its own writes.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import msgspec
import structlog

from shiftclipper_common.bus import encode, publish_event
from shiftclipper_common.storage import ObjectNotFound, UploadTooLarge
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.job_setup import JobSetup, SetupError, setup_from_obj
from shiftclipper_contracts.jobs import CreateJobRequest, JobRecord, UploadUrl
from shiftclipper_contracts.results import Results
from shiftclipper_contracts.status import ACTIVE_STATES, TERMINAL_STATES, ErrorInfo, JobState, StatusRecord

from .auth import Principal
from .deps import Deps
from .errors import ApiError, not_found
from .jobs_repo import Conflict
from .probe import ProbeError, StorageUnreachable, probe_async

log = structlog.get_logger()
VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".ts", ".m4v", ".avi", ".webm", ".mts"}
_results_decoder = msgspec.json.Decoder(Results)


def new_job_id() -> str:
    return secrets.token_hex(8)


def video_extension(filename: str) -> str:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    return suffix if suffix in VIDEO_EXTENSIONS else ".mp4"


class JobService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def _emit(self, event: ev.Event, discriminator: str | None = "", gone: bool = False) -> None:
        seq = await publish_event(self.d.js, event, discriminator)
        await self.d.status.wait_for_seq(event.job_id, seq, gone=gone)

    async def visible(self, principal: Principal, job_id: str) -> tuple[JobRecord, int]:
        """The job's definition, or 404 when it does not exist or belongs to another key."""
        if not names.JOB_ID_RE.match(job_id):
            raise not_found()
        found = await self.d.jobs.get(job_id)
        if found is None or not principal.can_see(found[0].owner):
            raise not_found()
        return found

    async def status_for(self, principal: Principal, job_id: str) -> StatusRecord:
        """The hot path of every poller: answered from the KV watcher's cache (the record names its owner), with
        no broker round trip; the job definition is read only while the projector has not recorded the job."""
        record = self.d.status.get(job_id) if names.JOB_ID_RE.match(job_id) else None
        if record is not None and record.owner:
            if not principal.can_see(record.owner):
                raise not_found()
            return record
        job, _ = await self.visible(principal, job_id)
        return self.status_of(job)

    def status_of(self, job: JobRecord) -> StatusRecord:
        record = self.d.status.get(job.job_id)
        if record is None:  # projector not caught up yet: a truthful minimal record
            now = datetime.now(UTC)
            record = StatusRecord(
                job_id=job.job_id, name=job.name, owner=job.owner, status=JobState.created,
                created_at=job.created_at, updated_at=now, message="pending",
            )  # fmt: skip
        return record

    async def create(self, principal: Principal, req: CreateJobRequest, idempotency_key: str | None) -> StatusRecord:
        setup = _parse_setup(req.setup, "$.setup") if req.setup is not None else None
        job_id = new_job_id()
        if idempotency_key:
            owner_job = await self.d.jobs.claim_idempotency_key(principal.name, idempotency_key, job_id)
            if owner_job != job_id:
                existing = await self.d.jobs.get(owner_job)
                if existing:
                    return self.status_of(existing[0])
        record = JobRecord(
            job_id=job_id, name=req.name, owner=principal.name, created_at=datetime.now(UTC), setup=setup
        )
        await self.d.jobs.create(record)
        await self._emit(ev.JobCreated(job_id=job_id, name=req.name, owner=principal.name, at=record.created_at))
        log.info("job created", job_id=job_id, owner=principal.name)
        return self.status_of(record)

    async def put_setup(self, principal: Principal, job_id: str, obj: Any) -> JobSetup:
        job, revision = await self.visible(principal, job_id)
        if self.status_of(job).status in ACTIVE_STATES:
            raise ApiError(409, "conflict", "the job is running; cancel it before changing its setup")
        job.setup = _parse_setup(obj, "$")
        await self._update(job, revision)
        return job.setup

    async def _update(self, job: JobRecord, revision: int) -> int:
        try:
            return await self.d.jobs.update(job, revision)
        except Conflict:
            raise ApiError(409, "conflict", "the job was changed concurrently; try again") from None

    async def _start_upload(self, principal: Principal, job_id: str) -> None:
        job, _ = await self.visible(principal, job_id)
        state = self.status_of(job).status
        if state not in (JobState.created, JobState.uploading, JobState.uploaded):
            raise ApiError(409, "conflict", f"the job is {state}; create a new job for another video")
        await self._emit(ev.UploadStarted(job_id=job_id))

    async def upload(
        self, principal: Principal, job_id: str, chunks: AsyncIterator[bytes], filename: str
    ) -> StatusRecord:
        await self._start_upload(principal, job_id)
        key = names.input_key(job_id, video_extension(filename))
        try:
            size = await self.d.store.put_stream(key, chunks, self.d.config.max_upload_bytes)
        except (UploadTooLarge, ApiError) as exc:
            return await self._upload_failed(job_id, key, exc)
        return await self._record_video(job_id, key, size, filename)

    async def upload_url(self, principal: Principal, job_id: str, filename: str) -> UploadUrl:
        """A presigned PUT straight to storage; the client then calls `complete_upload`."""
        await self._start_upload(principal, job_id)
        key = names.input_key(job_id, video_extension(filename))
        ttl = self.d.config.artifact_url_ttl_s
        return UploadUrl(url=await self.d.store.presign_put(key, ttl), method="PUT", key=key, expires_in_s=ttl)

    async def complete_upload(self, principal: Principal, job_id: str, filename: str) -> StatusRecord:
        await self.visible(principal, job_id)
        key = names.input_key(job_id, video_extension(filename))
        head = await self.d.store.head(key)
        if head is None:
            raise ApiError(409, "no_video", "nothing was uploaded to the presigned URL for this file name")
        size = int(head["ContentLength"])
        if size > self.d.config.max_upload_bytes:
            return await self._upload_failed(job_id, key, UploadTooLarge(f"upload exceeds {size} bytes"))
        return await self._record_video(job_id, key, size, filename)

    async def _record_video(self, job_id: str, key: str, size: int, filename: str) -> StatusRecord:
        """Probe the stored video where it lies, then record it on the job."""
        try:
            url = await self.d.store.presign_internal_get(key, 600)
            video = await probe_async(url, size, PurePosixPath(filename).name[:200])
        except ProbeError as exc:
            if not await self.d.store.is_up(key):  # storage went away mid-read: the video is not to blame
                raise StorageUnreachable(f"object storage failed while reading the video: {exc}") from None
            return await self._upload_failed(job_id, key, exc)
        found = await self.d.jobs.get(job_id)
        if found is None:
            raise not_found()
        job, revision = found
        job.video_key, job.video = key, video
        await self._update(job, revision)
        await self._emit(ev.VideoUploaded(job_id=job_id, video=video, key=key), discriminator=None)
        log.info("video uploaded", job_id=job_id, size=size, duration_s=video.duration_s)
        return self.status_of(job)

    async def _upload_failed(self, job_id: str, key: str, exc: Exception) -> StatusRecord:
        await self.d.store.delete_prefix(key)
        if isinstance(exc, UploadTooLarge):
            error, status = ErrorInfo(code="too_large", message=str(exc)), 413
        elif isinstance(exc, ApiError):
            error, status = ErrorInfo(code=exc.code, message=exc.message), exc.status
        else:
            error, status = ErrorInfo(code="video_unreadable", message=str(exc)), 422
        await self._emit(ev.UploadFailed(job_id=job_id, error=error), discriminator=None)
        log.info("upload rejected", job_id=job_id, code=error.code)
        raise ApiError(status, error.code, error.message)

    async def run(self, principal: Principal, job_id: str, retry: bool = False) -> StatusRecord:
        job, revision = await self.visible(principal, job_id)
        state = self.status_of(job).status
        if state in ACTIVE_STATES:
            raise ApiError(409, "conflict", f"the job is already {state}")
        if retry and state not in TERMINAL_STATES:
            raise ApiError(409, "conflict", f"only finished, failed or cancelled jobs can be retried (job is {state})")
        if job.video_key is None or job.video is None:
            raise ApiError(409, "no_video", "upload a video before running the job")
        if job.setup is None:
            raise ApiError(409, "no_setup", "set the target player (PUT /jobs/{id}/setup) before running")
        job.attempt += 1
        await self._update(job, revision)  # the CAS makes concurrent runs one attempt
        await self._emit(ev.JobQueued(job_id=job_id, attempt=job.attempt))
        work = ev.TrackWork(
            job_id=job_id, attempt=job.attempt, video_key=job.video_key, video=job.video, setup=job.setup
        )
        await self.d.js.publish(names.WORK_SUBJECT, encode(work), headers={"Nats-Msg-Id": f"{job_id}.{job.attempt}"})
        log.info("job queued", job_id=job_id, attempt=job.attempt)
        return self.status_of(job)

    async def cancel(self, principal: Principal, job_id: str) -> StatusRecord:
        job, _ = await self.visible(principal, job_id)
        status = self.status_of(job)
        if status.status in TERMINAL_STATES:
            raise ApiError(409, "conflict", f"the job is already {status.status}")
        # The attempt comes from the job record (read fresh, CAS-written by `run`), not from the status
        # cache, which may lag after a NATS restart: a cancel stamped with a stale attempt is fenced by
        # the projector, and the job ran on after a 202 (found by the chaos test).
        cancel = ev.CancelRequested(job_id=job_id, attempt=max(job.attempt, status.attempt))
        seq = await publish_event(self.d.js, cancel, "")
        await self.d.status.wait_for_seq(job_id, seq)
        after = self.status_of(job)
        if after.last_event_seq >= seq and after.status != JobState.cancelled:
            raise ApiError(409, "conflict", f"the job is already {after.status}")  # it finished first
        log.info("cancel requested", job_id=job_id)
        return after

    async def delete(self, principal: Principal, job_id: str) -> None:
        job, _ = await self.visible(principal, job_id)
        status = self.status_of(job)
        if status.status not in TERMINAL_STATES:
            await self._emit(ev.CancelRequested(job_id=job_id, attempt=max(job.attempt, status.attempt)))
        await self.d.store.delete_prefix(names.job_prefix(job_id))
        await self.d.jobs.delete(job_id)
        await self._emit(ev.JobDeleted(job_id=job_id, attempt=status.attempt), gone=True)
        log.info("job deleted", job_id=job_id)

    async def results(self, principal: Principal, job_id: str) -> Results:
        await self.visible(principal, job_id)
        try:
            results = _results_decoder.decode(await self.d.store.get_bytes(names.results_key(job_id)))
        except ObjectNotFound:
            raise ApiError(404, "not_found", "no results yet") from None
        ttl = self.d.config.artifact_url_ttl_s
        for shift in results.shifts:
            if shift.clip:
                shift.clip.url = await self.d.store.presign_get(shift.clip.key, ttl)
        if results.reel:
            results.reel.url = await self.d.store.presign_get(results.reel.key, ttl)
        return results

    async def cleanup(self, principal: Principal, days: float, max_count: int) -> list[str]:
        """Delete finished jobs older than `days` (oldest first, at most `max_count`); never active ones."""
        cutoff = datetime.now(UTC).timestamp() - days * 86400
        finished = [
            r
            for r in self.d.status.records.values()
            if principal.can_see(r.owner) and r.status in TERMINAL_STATES and r.updated_at.timestamp() < cutoff
        ]
        finished.sort(key=lambda r: r.updated_at)
        removed = []
        for record in finished[:max_count]:
            await self.delete(principal, record.job_id)
            removed.append(record.job_id)
        return removed


def _parse_setup(obj: Any, where: str) -> JobSetup:
    try:
        return setup_from_obj(obj)
    except SetupError as exc:
        field = exc.field or "$"
        if where != "$":
            field = where + field[1:]
        raise ApiError(400, "invalid_setup", str(exc), field) from None
