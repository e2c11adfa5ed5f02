"""HTTP handlers: parse, authorise, call JobService, shape the response. No business logic here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import Parameter
from litestar.response import Redirect, ServerSentEvent, Stream
from litestar.response.sse import ServerSentEventMessage

from shiftclipper_contracts import names
from shiftclipper_contracts.job_setup import JobSetup
from shiftclipper_contracts.jobs import CleanupResult, CreateJobRequest, JobList, Stats, UploadUrl
from shiftclipper_contracts.results import Results
from shiftclipper_contracts.status import TERMINAL_STATES, JobState, StatusRecord

from .auth import Principal
from .errors import ApiError, not_found
from .ratelimit import RateLimits
from .service import JobService
from .uploads import (
    check_declared_length,
    check_video_content_type,
    checked_filename,
    multipart_file,
    request_chunks,
)

SSE_PING_S = 15.0
TRACKER_RECHECK_S = 0.25
"""How long `/stats` waits before a second look when it sees no tracker."""
_encoder = msgspec.json.Encoder()


def jobs(request: Request) -> JobService:
    return request.app.state.jobs


def limits(request: Request) -> RateLimits:
    return request.app.state.limits


@post("/jobs", status_code=201)
async def create_job(
    request: Request,
    principal: Principal,
    data: CreateJobRequest | None = None,
    idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key")] = None,
) -> StatusRecord:
    limits(request).create.check(principal.name)
    return await jobs(request).create(principal, data or CreateJobRequest(), idempotency_key)


@get("/jobs")
async def list_jobs(
    request: Request,
    principal: Principal,
    status: JobState | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    cursor: Annotated[int, Parameter(ge=0)] = 0,
) -> JobList:
    records = [
        r
        for r in request.app.state.deps.status.records.values()
        if principal.can_see(r.owner)
        and (status is None or r.status == status)
        and (since is None or r.created_at >= since)
    ]
    records.sort(key=lambda r: (r.created_at, r.job_id), reverse=True)
    page = records[cursor : cursor + limit]
    more = cursor + limit < len(records)
    return JobList(jobs=page, next_cursor=str(cursor + limit) if more else None)


@get(["/jobs/{job_id:str}", "/jobs/{job_id:str}/status"])
async def get_status(request: Request, principal: Principal, job_id: str) -> StatusRecord:
    return await jobs(request).status_for(principal, job_id)


@put("/jobs/{job_id:str}/setup")
async def put_setup(request: Request, principal: Principal, job_id: str, data: dict[str, Any]) -> JobSetup:
    return await jobs(request).put_setup(principal, job_id, data)


@get("/jobs/{job_id:str}/setup")
async def get_setup(request: Request, principal: Principal, job_id: str) -> JobSetup:
    job, _ = await jobs(request).visible(principal, job_id)
    if job.setup is None:
        raise ApiError(404, "not_found", "no setup yet")
    return job.setup


@put("/jobs/{job_id:str}/video", request_max_body_size=None)
async def put_video(request: Request, principal: Principal, job_id: str, filename: str = "video.mp4") -> StatusRecord:
    """Raw-body streaming upload: the body goes straight into an S3 multipart upload."""
    check_video_content_type(request)
    check_declared_length(request, request.app.state.deps.config.max_upload_bytes)
    checked_filename(filename)
    limits(request).upload.check(principal.name)
    return await jobs(request).upload(principal, job_id, request_chunks(request), filename)


@post("/jobs/{job_id:str}/upload", request_max_body_size=None, status_code=200)
async def post_upload(request: Request, principal: Principal, job_id: str) -> StatusRecord:
    """Multipart upload (browsers, v1 clients), streamed the same way."""
    check_declared_length(request, request.app.state.deps.config.max_upload_bytes + 1024 * 1024)
    await jobs(request).visible(principal, job_id)  # 404 before reading the body
    limits(request).upload.check(principal.name)
    filename, chunks = await multipart_file(request)
    return await jobs(request).upload(principal, job_id, chunks, filename)


@post("/jobs/{job_id:str}/upload-url", status_code=200)
async def upload_url(request: Request, principal: Principal, job_id: str, filename: str = "video.mp4") -> UploadUrl:
    """A presigned PUT for direct-to-storage upload; then POST /jobs/{id}/video/complete."""
    checked_filename(filename)
    limits(request).upload.check(principal.name)
    return await jobs(request).upload_url(principal, job_id, filename)


@post("/jobs/{job_id:str}/video/complete", status_code=200)
async def complete_upload(
    request: Request, principal: Principal, job_id: str, filename: str = "video.mp4"
) -> StatusRecord:
    return await jobs(request).complete_upload(principal, job_id, checked_filename(filename))


@post("/jobs/cleanup", status_code=200)
async def cleanup_jobs(
    request: Request,
    principal: Principal,
    days: Annotated[float, Parameter(ge=0)] = 30.0,
    max_count: Annotated[int, Parameter(ge=1, le=10_000)] = 1000,
) -> CleanupResult:
    """Remove finished jobs older than `days`, with their objects. Running jobs are never touched."""
    return CleanupResult(removed=await jobs(request).cleanup(principal, days, max_count))


@get("/dead-letters")
async def dead_letters(request: Request, principal: Principal) -> JobList:
    """Jobs that failed for good (after their attempts); `POST /jobs/{id}/retry` re-queues one."""
    failed = [
        r
        for r in request.app.state.deps.status.records.values()
        if principal.can_see(r.owner) and r.status == JobState.failed
    ]
    return JobList(jobs=sorted(failed, key=lambda r: r.updated_at, reverse=True))


@get("/stats")
async def stats(request: Request, principal: Principal) -> Stats:
    deps = request.app.state.deps
    visible = [r for r in deps.status.records.values() if principal.can_see(r.owner)]
    by_status = {state.value: sum(1 for r in visible if r.status == state) for state in JobState}
    tracker = await deps.js.consumer_info(names.WORK_STREAM, names.TRACKER_CONSUMER)
    if not (tracker.num_waiting or tracker.num_ack_pending):
        # An idle tracker renews its pull request every couple of seconds; one look may fall between two.
        await asyncio.sleep(TRACKER_RECHECK_S)
        tracker = await deps.js.consumer_info(names.WORK_STREAM, names.TRACKER_CONSUMER)
    exporter = await deps.js.consumer_info(names.EVENTS_STREAM, names.EXPORTER_CONSUMER)
    return Stats(
        jobs_by_status=by_status,
        queue_depth=tracker.num_pending or 0,
        tracking_in_flight=tracker.num_ack_pending or 0,
        workers={"tracker_idle_pulls": tracker.num_waiting or 0, "exporter_idle_pulls": exporter.num_waiting or 0},
        dead_letters=by_status[JobState.failed.value],
        tracker_connected=bool(tracker.num_waiting or tracker.num_ack_pending),
    )


@post("/jobs/{job_id:str}/run", status_code=202)
async def run_job(request: Request, principal: Principal, job_id: str) -> StatusRecord:
    return await jobs(request).run(principal, job_id)


@post("/jobs/{job_id:str}/retry", status_code=202)
async def retry_job(request: Request, principal: Principal, job_id: str) -> StatusRecord:
    return await jobs(request).run(principal, job_id, retry=True)


@post("/jobs/{job_id:str}/cancel", status_code=202)
async def cancel_job(request: Request, principal: Principal, job_id: str) -> StatusRecord:
    return await jobs(request).cancel(principal, job_id)


@delete("/jobs/{job_id:str}", status_code=204)
async def delete_job(request: Request, principal: Principal, job_id: str) -> None:
    await jobs(request).delete(principal, job_id)


@get("/jobs/{job_id:str}/results")
async def get_results(request: Request, principal: Principal, job_id: str) -> Results:
    return await jobs(request).results(principal, job_id)


@get("/jobs/{job_id:str}/events")
async def job_events(request: Request, principal: Principal, job_id: str) -> ServerSentEvent:
    """Server-Sent Events: the status record on every change, pings to keep proxies from closing."""
    job, _ = await jobs(request).visible(principal, job_id)
    cache = request.app.state.deps.status
    first = jobs(request).status_of(job)

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        with cache.subscribe(job_id) as queue:
            record: StatusRecord | None = cache.get(job_id) or first
            yield ServerSentEventMessage(event="status", data=_encoder.encode(record).decode())
            while record is not None and record.status not in TERMINAL_STATES:
                try:
                    record = await asyncio.wait_for(queue.get(), SSE_PING_S)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="ping")
                    continue
                if record is not None:
                    yield ServerSentEventMessage(event="status", data=_encoder.encode(record).decode())
            yield ServerSentEventMessage(event="end", data=job_id)

    return ServerSentEvent(stream())


@get("/jobs/{job_id:str}/artifacts/{name:path}")
async def get_artifact(
    request: Request, principal: Principal, job_id: str, name: str, redirect: bool = False
) -> Response[Any]:
    """Stream an artefact with HTTP Range support, or 307 to a signed, expiring storage URL."""
    await jobs(request).visible(principal, job_id)
    key = names.artifact_key(job_id, name.lstrip("/"))
    if key is None:
        raise not_found("artifact")
    deps = request.app.state.deps
    if redirect:
        if await deps.store.head(key) is None:
            raise not_found("artifact")
        return Redirect(await deps.store.presign_get(key, deps.config.artifact_url_ttl_s), status_code=307)
    try:
        obj = await deps.store.open_range(key, request.headers.get("range"))
    except KeyError:
        raise not_found("artifact") from None
    except Exception as exc:  # an unsatisfiable range
        if "InvalidRange" in str(exc):
            raise ApiError(416, "bad_range", "requested range not satisfiable") from None
        raise
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(obj["ContentLength"])}
    if obj.get("ContentRange"):
        headers["Content-Range"] = obj["ContentRange"]
    return Stream(
        _body_chunks(obj["Body"]),
        status_code=206 if obj.get("ContentRange") else 200,
        media_type=obj.get("ContentType") or "application/octet-stream",
        headers=headers,
    )


async def _body_chunks(body: Any) -> AsyncIterator[bytes]:
    async with body:
        while chunk := await body.read(256 * 1024):
            yield chunk


ROUTES = [
    create_job, list_jobs, get_status, put_setup, get_setup, put_video, post_upload, upload_url, complete_upload,
    run_job, retry_job, cancel_job, delete_job, get_results, job_events, get_artifact, cleanup_jobs, dead_letters,
    stats,
]  # fmt: skip
