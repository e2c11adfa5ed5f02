"""One error shape for every failure: `{"error": {"code", "message", "field"}}`; never a 500 on bad input."""

from __future__ import annotations

import re
from collections.abc import Iterable

import nats.errors
import nats.js.errors
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from shiftclipper_common.storage import RETRYABLE as STORAGE_RETRYABLE
from shiftclipper_contracts.jobs import ErrorBody, ErrorDetail

log = structlog.get_logger()


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def not_found(what: str = "job") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _body(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    detail = ErrorDetail(code=code, message=message, field=field)
    return Response(ErrorBody(detail), status_code=status, headers=headers)


def api_error_handler(_: Request, exc: ApiError) -> Response[ErrorBody]:
    return _body(exc.status, exc.code, exc.message, exc.field, exc.headers)


def validation_handler(_: Request, exc: ValidationException) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    if key == "data" and (unknown := _UNKNOWN_FIELD.search(message)):
        # msgspec names the unknown field only in its message ("... - at `$.parent`" when nested)
        key = f"{unknown.group(2)}.{unknown.group(1)}" if unknown.group(2) else unknown.group(1)
    field = f"$.{key}" if key and not str(key).startswith("$") else key
    return _body(400, "invalid_request", message, field)


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`(?: - at `\$\.?([^`]*)`)?")


def too_deep_handler(_: Request, exc: RecursionError) -> Response[ErrorBody]:
    # msgspec refuses JSON nested deeper than the interpreter's recursion limit with a RecursionError;
    # request bodies are the only unbounded recursive input the gateway parses.
    return _body(400, "invalid_request", "the JSON body is nested too deeply")


HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def http_handler(_: Request, exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    code = HTTP_CODES.get(status, "bad_request" if status < 500 else "internal")
    return _body(status, code, str(exc.detail))


UNAVAILABLE_RETRY_AFTER_S = 5
"""What a 503 asks clients to wait: about one JetStream leader election."""


BROKER_UNAVAILABLE = (nats.errors.TimeoutError, nats.errors.NoServersError, nats.errors.ConnectionClosedError,
                      nats.js.errors.ServiceUnavailableError, TimeoutError)  # fmt: skip
"""NATS could not answer in time (no connection, or a stream/bucket without a leader during a failover)."""


def _unavailable(exc: Exception) -> str | None:
    """What a 503 says when a backend, not the request, failed; None for any other error."""
    if isinstance(exc, BROKER_UNAVAILABLE):
        return "the message broker is not answering (failover or restart); retry shortly"
    if isinstance(exc, STORAGE_RETRYABLE):
        return "object storage is not answering (restart or outage); retry shortly"
    return None


def internal_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    if message := _unavailable(exc):
        log.warning("backend unavailable", path=request.url.path, error=repr(exc))
        return _body(503, "unavailable", message, headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)})
    log.exception("unhandled error", path=request.url.path)
    return _body(500, "internal", "internal error")


ERROR_STATUSES = {
    400: "Invalid request (field names the offending JSON path)",
    401: "Missing or invalid API key",
    404: "No such job or artefact (or it belongs to another key)",
    408: "The upload stalled",
    409: "Conflicts with the job's state",
    413: "Too large",
    415: "Unsupported media type",
    422: "The video cannot be read",
    429: "Rate limited (see Retry-After)",
    503: "The message broker or object storage is not answering (see Retry-After)",
}


def document_errors(handlers: Iterable[object]) -> None:
    """Make the OpenAPI schema describe the error bodies the gateway really sends (`ErrorBody`) instead of
    Litestar's default `{status_code, detail}` 400, so clients and schemathesis see the truth."""
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler) and handler.include_in_schema is not False:
            documented = {code: ResponseSpec(ErrorBody, description=text) for code, text in ERROR_STATUSES.items()}
            handler.responses = {**documented, **(handler.responses or {})}


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    ValidationException: validation_handler,
    RecursionError: too_deep_handler,
    HTTPException: http_handler,
    Exception: internal_handler,
}
