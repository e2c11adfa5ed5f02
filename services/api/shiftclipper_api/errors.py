"""One error shape for every failure: `{"error": {"code", "message", "field"}}`; never a 500 on bad input."""

from __future__ import annotations

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from shiftclipper_contracts.jobs import ErrorBody, ErrorDetail

log = structlog.get_logger()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def not_found(what: str = "job") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _body(status: int, code: str, message: str, field: str | None = None) -> Response[ErrorBody]:
    return Response(ErrorBody(ErrorDetail(code=code, message=message, field=field)), status_code=status)


def api_error_handler(_: Request, exc: ApiError) -> Response[ErrorBody]:
    return _body(exc.status, exc.code, exc.message, exc.field)


def validation_handler(_: Request, exc: ValidationException) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    field = f"$.{key}" if key and not str(key).startswith("$") else key
    return _body(400, "invalid_request", message, field)


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


def internal_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error", path=request.url.path)
    return _body(500, "internal", "internal error")


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_handler,
    Exception: internal_handler,
}
