"""Probe an uploaded video where it lies (presigned URL, range reads only) with PyAV."""

from __future__ import annotations

import asyncio

from shiftclipper_common.storage import is_transient_read_error
from shiftclipper_contracts.status import VideoInfo


class ProbeError(ValueError):
    pass


class StorageUnreachable(ConnectionError):
    """The probe's read failed on the storage server (refused, reset, 5xx), not on the video: the upload is
    kept and the client told to retry, never told its video is unreadable."""


def probe_video(url: str, size: int, filename: str) -> VideoInfo:
    import av  # imported lazily: only the gateway's upload path needs it

    try:
        with av.open(url, timeout=(10.0, 30.0)) as container:
            streams = container.streams.video
            if not streams:
                raise ProbeError("the file has no video stream")
            stream = streams[0]
            duration = _duration(container, stream)
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            if duration <= 0 or fps <= 0 or not stream.codec_context.width:
                raise ProbeError("the video has no readable frames")
            return VideoInfo(
                size=size,
                duration_s=round(duration, 3),
                fps=round(fps, 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                codec=stream.codec_context.name,
                filename=filename,
            )
    except ProbeError:
        raise
    except Exception as exc:  # PyAV raises many error types for corrupt input
        if is_transient_read_error(exc):
            raise StorageUnreachable(str(exc)) from None
        raise ProbeError(f"not a readable video: {exc.__class__.__name__}") from None


def _duration(container: object, stream: object) -> float:
    if getattr(stream, "duration", None) and getattr(stream, "time_base", None):
        return float(stream.duration * stream.time_base)  # type: ignore[attr-defined]
    if getattr(container, "duration", None):
        return float(container.duration) / 1_000_000  # type: ignore[attr-defined]
    return 0.0


async def probe_async(url: str, size: int, filename: str) -> VideoInfo:
    return await asyncio.to_thread(probe_video, url, size, filename)
