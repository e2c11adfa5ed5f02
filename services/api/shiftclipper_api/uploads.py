"""Request bodies as async byte streams: raw PUT bodies and the file part of a multipart form.

Nothing is buffered beyond one network chunk here; the object store holds at most one part.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from .errors import ApiError

ACCEPTED_TYPES = ("video/", "application/octet-stream", "application/mp4")


def check_video_content_type(request: Request) -> None:
    content_type = (request.headers.get("content-type") or "application/octet-stream").lower()
    if not content_type.startswith(ACCEPTED_TYPES):
        raise ApiError(415, "unsupported_media_type", f"expected a video body, got {content_type!r}")


def check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the upload exceeds the limit of {limit} bytes")
    if declared == "0":
        raise ApiError(400, "empty_upload", "the request body is empty")


async def multipart_file(request: Request) -> tuple[str, AsyncIterator[bytes]]:
    """The first file part of a multipart/form-data body: (filename, stream of its bytes)."""
    content_type, options = parse_options_header(request.headers.get("content-type") or "")
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise ApiError(415, "unsupported_media_type", "expected multipart/form-data with a boundary")
    events = _parse(request, options["boundary"])
    async for event in events:
        if isinstance(event, MultipartSegment) and event.filename:
            return event.filename, _segment_body(events)
    raise ApiError(400, "no_file", "the form has no file part")


async def _parse(request: Request, boundary: str) -> AsyncIterator[object]:
    parser = PushMultipartParser(boundary, max_header_size=8192, max_header_count=16)
    try:
        async for chunk in request.stream():
            if chunk:
                for event in parser.parse(chunk):
                    yield event
        for event in parser.parse(b""):
            yield event
    except ParserError as exc:
        raise ApiError(400, "invalid_multipart", f"malformed multipart body: {exc}") from None


async def _segment_body(events: AsyncIterator[object]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        if isinstance(event, bytes | bytearray):
            yield bytes(event)
    raise ApiError(400, "invalid_multipart", "the multipart body ended inside the file part")
