"""Request bodies as async byte streams: raw PUT bodies and the file part of a multipart form.

Nothing is buffered beyond one network chunk here; the object store holds at most one part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from litestar import Request
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from .errors import ApiError

ACCEPTED_TYPES = ("video/", "application/octet-stream", "application/mp4")


def check_video_content_type(request: Request) -> None:
    content_type = (request.headers.get("content-type") or "application/octet-stream").lower()
    if not content_type.startswith(ACCEPTED_TYPES):
        raise ApiError(415, "unsupported_media_type", f"expected a video body, got {content_type!r}")


def checked_filename(filename: str) -> str:
    """A client's file name is only shown and used for its extension, never in an object key; still, a name
    that cannot be a plain file name (separators, `..`, control characters) is refused, not rewritten."""
    if (
        not filename
        or len(filename) > 255
        or filename in (".", "..")
        or any(sep in filename for sep in "/\\")
        or any(ord(c) < 32 or ord(c) == 127 for c in filename)
    ):
        raise ApiError(
            400, "invalid_filename", "filename must be a plain file name (no path, no control characters)", "$.filename"
        )
    return filename


def check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the upload exceeds the limit of {limit} bytes")
    if declared == "0":
        raise ApiError(400, "empty_upload", "the request body is empty")


def request_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body, aborted with 408 when the client stalls (slow loris): otherwise a client that
    sends a few bytes and stops would hold a connection, an S3 multipart upload and the job forever."""
    return with_idle_timeout(request.stream(), request.app.state.deps.config.upload_idle_timeout_s)


async def with_idle_timeout(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    source = aiter(chunks)
    while True:
        try:
            chunk = await asyncio.wait_for(anext(source), seconds)
        except StopAsyncIteration:
            return
        except TimeoutError:
            message = f"the upload stalled: no data for {seconds:g} s; upload the video again"
            raise ApiError(408, "upload_timeout", message) from None
        yield chunk


async def multipart_file(request: Request) -> tuple[str, AsyncIterator[bytes]]:
    """The first file part of a multipart/form-data body: (filename, stream of its bytes)."""
    content_type, options = parse_options_header(request.headers.get("content-type") or "")
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise ApiError(415, "unsupported_media_type", "expected multipart/form-data with a boundary")
    events = _parse(request, options["boundary"])
    async for event in events:
        if isinstance(event, MultipartSegment) and event.filename:
            # Old browsers send the whole client-side path: keep its last component.
            name = event.filename.replace("\\", "/").rsplit("/", 1)[-1]
            return checked_filename(name), _segment_body(events)
    raise ApiError(400, "no_file", "the form has no file part")


async def _parse(request: Request, boundary: str) -> AsyncIterator[object]:
    parser = PushMultipartParser(boundary, max_header_size=8192, max_header_count=16)
    try:
        async for chunk in request_chunks(request):
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
