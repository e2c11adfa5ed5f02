"""Video decoding adapter (PyAV): sampled, downscaled BGR frames from a local file or an http(s) URL.

Speed notes (SPEC §5): FFmpeg decodes every frame (threaded, `thread_type = "AUTO"`), but only the sampled
ones are converted to numpy, and the downscale happens inside that one swscale conversion
(`to_ndarray(width=, height=, format="bgr24")`), so a 1080p stream never materialises as a 1080p BGR array.

Frame numbering is derived from presentation timestamps (`round(t * fps)`), not from a decode counter, so it
is stable across a resume that seeks into the middle of the stream. For constant-frame-rate video (nearly
every camera and broadcast file) it equals the decode order index.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.container
import av.error
import av.stream
import av.video
import numpy as np

from shiftclipper_contracts.status import VideoInfo

URL_TIMEOUT_S = 30.0
"""Open/read timeout for http(s) sources (seconds)."""
MAX_CONSECUTIVE_BAD_PACKETS = 200
"""A stream with more undecodable packets in a row than this is treated as unreadable."""
_EPS = 1e-6


class VideoError(Exception):
    """The input cannot be used as a video. `code` is a stable error code for the job status record."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    frame_index: int
    """Frame number in the source at its nominal frame rate (from the timestamp)."""
    t: float
    """Presentation time in seconds from the start of the video stream."""
    image: np.ndarray
    """BGR uint8, shape (height, width, 3), already downscaled and rotated for display."""


def _is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _open(src: str) -> av.container.InputContainer:
    if not _is_url(src):
        if not os.path.exists(src):
            raise VideoError("video_unreadable", f"file not found: {os.path.basename(src)}")
        if os.path.getsize(src) == 0:
            raise VideoError("video_unreadable", "the file is empty (0 bytes)")
    try:
        timeout = (URL_TIMEOUT_S, URL_TIMEOUT_S) if _is_url(src) else None
        return av.open(src, mode="r", timeout=timeout)
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise VideoError("video_unreadable", f"cannot open the input as a media file: {e}") from e


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    for stream in container.streams.video:
        # Cover art is a single attached picture, not a video.
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        return stream
    container.close()
    raise VideoError("no_video_stream", "the input has no video stream")


def _fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    return fps if 0.0 < fps < 1000.0 else 30.0


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _target_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    """Output (width, height) before rotation: never upscale; keep the aspect ratio; even width."""
    if not max_height or height <= max_height:
        return width, height
    new_w = max(2, round(width * max_height / height / 2) * 2)
    return new_w, max_height


def _decode_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    wanted: Callable[[int], bool] | None = None,
) -> Iterator[av.VideoFrame]:
    """Decode packet by packet so that one corrupt packet is skipped instead of ending the job.

    `wanted(pts)` says whether the frame of a packet will be used. For a packet that will not, the decoder is
    told to skip it if no other frame references it (`skip_frame = "NONREF"`, set per packet; FFmpeg's frame
    threads pick the setting up at submit time). Reference frames are always decoded, so what comes out is
    exact, just without the unused B-frames.
    """
    cc = stream.codec_context
    skipping = False
    bad_in_a_row = 0
    for packet in container.demux(stream):
        if wanted is not None and packet.pts is not None:
            skip = not wanted(packet.pts)
            if skip != skipping:
                cc.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            bad_in_a_row += 1
            if bad_in_a_row > MAX_CONSECUTIVE_BAD_PACKETS:
                raise VideoError("video_unreadable", "too many undecodable packets in a row") from None
            continue
        bad_in_a_row = 0
        yield from frames


def _to_bgr(frame: av.VideoFrame, max_height: int | None) -> np.ndarray:
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    w, h = frame.width, frame.height
    if rotation in (90, 270):
        # max_height applies to the displayed (rotated) picture, whose height is the coded width.
        new_h, new_w = _target_size(h, w, max_height)
    else:
        new_w, new_h = _target_size(w, h, max_height)
    img: np.ndarray
    if (new_w, new_h) == (w, h):
        img = frame.to_ndarray(format="bgr24")
    else:
        img = frame.to_ndarray(width=new_w, height=new_h, format="bgr24", interpolation="BILINEAR")
    if rotation:
        # PyAV reports the display matrix angle counter-clockwise; np.rot90 also turns counter-clockwise.
        img = np.ascontiguousarray(np.rot90(img, k=rotation // 90))
    return img


def video_info(src: str, *, check_decode: bool = True) -> VideoInfo:
    """Probe `src`. Raises VideoError for missing, empty, corrupt or non-video input.

    With `check_decode` the first frame is decoded too, which catches files with a valid header but
    garbage data. `size` is 0 for URLs. Width/height are of the displayed (rotation-corrected) picture.
    """
    container = _open(src)
    try:
        stream = _video_stream(container)
        cc = stream.codec_context
        width, height = cc.width, cc.height
        if check_decode:
            stream.thread_type = "AUTO"
            first = next(_decode_frames(container, stream), None)
            if first is None:
                raise VideoError("video_unreadable", "no decodable video frame")
            width, height = first.width, first.height
            if int(getattr(first, "rotation", 0) or 0) % 180 == 90:
                width, height = height, width
        if width <= 0 or height <= 0:
            raise VideoError("video_unreadable", "the video stream has no frame size")
        return VideoInfo(
            size=0 if _is_url(src) else os.path.getsize(src),
            duration_s=round(_duration_s(container, stream), 3),
            fps=round(_fps(stream), 3),
            width=width,
            height=height,
            codec=cc.name or "",
            filename="" if _is_url(src) else os.path.basename(src),
        )
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError("video_unreadable", f"cannot read the video: {e}") from e
    finally:
        container.close()


def iter_frames(
    src: str,
    every_s: float,
    max_height: int | None,
    start_frame: int = 0,
    *,
    skip_unused: bool = True,
) -> Iterator[DecodedFrame]:
    """Yield one frame per `every_s` seconds of video (every frame when `every_s` <= 0), as BGR arrays.

    Frame `f` at time `t` is sampled when a multiple of `every_s` lies in `(t - 1/fps, t]`: the choice
    depends only on its own timestamp, so resuming with `start_frame` yields exactly the frames >= start_frame
    that an uninterrupted run would have yielded. Resuming seeks to the keyframe at or before `start_frame`
    and decodes (without converting) up to it; if the demuxer cannot seek, or lands past `start_frame`, it
    decodes from the start instead. With `skip_unused`, frames that are neither sampled nor referenced by
    other frames (typically B-frames) are not decoded at all.

    Images are downscaled to at most `max_height` rows (never upscaled) inside the colour conversion.
    Raises VideoError when the input cannot be opened or not a single frame can be decoded.
    """
    seek = start_frame > 0
    while True:
        container = _open(src)
        try:
            for item in _sampled(container, every_s, max_height, start_frame, seek, skip_unused):
                if item is None:  # the seek failed or overshot: start again from the beginning
                    break
                yield item
            else:
                return
        except (av.error.FFmpegError, OSError) as e:
            raise VideoError("video_unreadable", f"cannot read the video: {e}") from e
        finally:
            container.close()
        seek = False


def _sampled(
    container: av.container.InputContainer,
    every_s: float,
    max_height: int | None,
    start_frame: int,
    seek: bool,
    skip_unused: bool,
) -> Iterator[DecodedFrame | None]:
    stream = _video_stream(container)
    stream.thread_type = "AUTO"
    fps = _fps(stream)
    time_base = stream.time_base or Fraction(1, 90000)
    start_pts = stream.start_time or 0
    frame_dur = 1.0 / fps

    def is_sample(t: float) -> bool:
        if every_s <= 0:
            return True
        return math.floor(t / every_s + _EPS) > math.floor((t - frame_dur) / every_s + _EPS)

    def wanted(pts: int) -> bool:
        t = float((pts - start_pts) * time_base)
        return round(t * fps) >= start_frame and is_sample(t)

    if seek:
        target = start_pts + int((start_frame - 0.5) / fps / time_base)
        try:
            container.seek(max(target, start_pts), stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            yield None
            return

    decoded = 0
    for frame in _decode_frames(container, stream, wanted if skip_unused else None):
        # Without timestamps at all, assume a constant frame rate.
        t = decoded * frame_dur if frame.pts is None else float((frame.pts - start_pts) * time_base)
        index = round(t * fps)
        if seek and decoded == 0 and index > start_frame:
            yield None
            return
        decoded += 1
        if index >= start_frame and is_sample(t):
            yield DecodedFrame(frame_index=index, t=t, image=_to_bgr(frame, max_height))
    if decoded == 0:
        raise VideoError("video_unreadable", "no decodable video frame")
