"""Probing, keyframe scanning and the ffmpeg runner shared by the media functions.

Everything here reads local paths or http(s) URLs (presigned S3 URLs) through PyAV or the ffmpeg binary
shipped by `imageio-ffmpeg`; nothing decodes more than the first frame.
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import av
import av.container
import av.error
import av.stream

from shiftclipper_contracts.status import VideoInfo

URL_TIMEOUT_S = 30.0


class MediaError(Exception):
    """A media operation failed; `code` is stable and machine readable (`video_unreadable`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class MediaInfo:
    """Everything the cutters need about a source; `video` is the contracts' record."""

    video: VideoInfo
    has_audio: bool
    audio_codec: str | None
    rotation: int
    """Counter-clockwise display rotation in degrees (0, 90, 180, 270)."""
    pix_fmt: str
    profile: str
    level: int
    time_base: Fraction
    start_time_s: float
    """Container start time: ffmpeg's `-ss` and every time in this module are relative to it."""
    reorder_depth: int
    """Frames of B-frame reordering announced by the stream (0: no B-frames)."""
    bit_rate: int
    """Video bit rate (bit/s) when known, else the container's, else 0."""


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def input_args(src: str) -> list[str]:
    """Options placed before `-i src`: a network timeout for URLs (seeks become HTTP range reads)."""
    return ["-rw_timeout", str(int(URL_TIMEOUT_S * 1e6))] if is_url(src) else []


def run_ffmpeg(args: list[str], timeout: float | None = None) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError("ffmpeg_timeout", f"ffmpeg ran past {timeout} s") from exc
    if proc.returncode != 0:
        raise MediaError("ffmpeg_failed", proc.stderr.strip()[-2000:] or f"exit {proc.returncode}")


@contextmanager
def open_input(src: str) -> Iterator[av.container.InputContainer]:
    """Open a path or URL with PyAV, turning every failure into `MediaError(video_unreadable)`."""
    if not is_url(src) and not os.path.isfile(src):
        raise MediaError("video_not_found", f"no such file: {os.path.basename(src)}")
    try:
        container = av.open(src, mode="r", timeout=URL_TIMEOUT_S if is_url(src) else None)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError("video_unreadable", f"cannot open the video: {exc}") from exc
    try:
        yield container
    finally:
        container.close()


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaError("no_video_stream", "the file has no video stream")
    return container.streams.video[0]


def _first_frame_rotation(container: av.container.InputContainer, stream: av.stream.Stream) -> int:
    """Decode the first frame (proves the data is there) and read its display rotation."""
    try:
        for frame in container.decode(stream):
            return round(getattr(frame, "rotation", 0)) % 360
    except av.error.FFmpegError as exc:
        raise MediaError("video_unreadable", f"the video data cannot be decoded: {exc}") from exc
    raise MediaError("video_unreadable", "the video stream has no decodable frame")


def probe_media(src: str) -> MediaInfo:
    """Probe a path or URL; raises `MediaError` for zero-byte, truncated, non-video input."""
    with open_input(src) as container:
        v = video_stream(container)
        cc = v.codec_context
        tb = v.time_base or Fraction(1, 90000)
        fps_q = v.average_rate or v.guessed_rate or v.base_rate
        fps = float(fps_q) if fps_q else 0.0
        if container.duration:
            duration = container.duration / 1e6
        elif v.duration:
            duration = float(v.duration * tb)
        else:
            duration = 0.0
        if not cc.width or not cc.height or duration <= 0:
            raise MediaError("video_unreadable", "the video has no size or no duration")
        audio = container.streams.audio[0] if container.streams.audio else None
        rotation = _first_frame_rotation(container, v)
        size = os.path.getsize(src) if not is_url(src) else int(container.size or 0)
        info = VideoInfo(
            size=size,
            duration_s=round(duration, 6),
            fps=round(fps, 6),
            width=cc.width,
            height=cc.height,
            codec=cc.name,
            filename=os.path.basename(src.split("?", 1)[0]),
        )
        return MediaInfo(
            video=info,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            rotation=rotation,
            pix_fmt=cc.pix_fmt or "",
            profile=v.profile or "",
            level=int(cc.level or 0),
            time_base=tb,
            start_time_s=(container.start_time or 0) / 1e6,
            reorder_depth=int(cc.reorder_depth or 0),
            bit_rate=int(v.bit_rate or container.bit_rate or 0),
        )


def probe(src: str) -> VideoInfo:
    """The contracts' `VideoInfo` of a path or URL."""
    return probe_media(src).video


@dataclass(frozen=True)
class Pkt:
    """One video packet's timing, in stream ticks relative to the container start."""

    pts: int
    dts: int | None
    key: bool


@dataclass
class Window:
    """The video packets (decode order) from the keyframe at or before `start` until past `end`."""

    time_base: Fraction
    origin: int
    """Container start in stream ticks; packet times here already have it subtracted."""
    packets: list[Pkt]
    seek: int
    """Seek target (ticks, relative) that lands at or before `packets[0]`: reuse it to read them again."""

    def seconds(self, ticks: int) -> float:
        return float(ticks * self.time_base)

    def ticks(self, seconds: float) -> int:
        return round(seconds / self.time_base)


def _demux_from(
    container: av.container.InputContainer, v: av.stream.Stream, origin: int, seek_to: int, end: int
) -> list[Pkt]:
    container.seek(seek_to + origin, stream=v, backward=True, any_frame=False)
    out: list[Pkt] = []
    margin = round(1 / (v.time_base or Fraction(1, 90000)))  # one second, for packets without dts
    for p in container.demux(v):
        if p.pts is None:
            continue
        pkt = Pkt(p.pts - origin, None if p.dts is None else p.dts - origin, bool(p.is_keyframe))
        if not out and not pkt.key:
            continue
        if (pkt.dts if pkt.dts is not None else pkt.pts - margin) >= end:
            break
        out.append(pkt)
    return out


def scan_window(container: av.container.InputContainer, start_s: float, end_s: float) -> Window:
    """Packet timings around [start_s, end_s): no decoding, only the needed byte ranges are read."""
    v = video_stream(container)
    tb = v.time_base or Fraction(1, 90000)
    origin = round(Fraction(container.start_time or 0, 1_000_000) / tb)
    start, end = round(start_s / tb), round(end_s / tb)
    back = 0.0
    while True:
        target = start - round(back / tb)
        pkts = _demux_from(container, v, origin, target, end)
        # A demuxer that seeks by decode time or by bytes (MPEG-TS) may land after the start: step back.
        if (pkts and pkts[0].pts <= start) or target < -round(1 / tb):
            return Window(tb, origin, pkts, target)
        back = max(2.0, back * 2)


def keyframe_times(src: str, start_s: float = 0.0, end_s: float = math.inf) -> list[float]:
    """Presentation times (s, from the container start) of the video keyframes, reading packets only.

    Without a window on an indexed container (mp4/mov: the sample table is in the header) this does
    not even read the packets: the index holds decode times, shifted by the reorder delay measured on
    the first keyframe.
    """
    with open_input(src) as container:
        v = video_stream(container)
        tb = v.time_base or Fraction(1, 90000)
        indexed = any(n in container.format.name for n in ("mp4", "mov"))
        if indexed and start_s <= 0 and math.isinf(end_s):
            entries = [e.timestamp for e in v.index_entries if e.is_keyframe]
            if entries:
                first = next(p for p in container.demux(v) if p.pts is not None)
                shift = (first.pts - first.dts) if first.pts is not None and first.dts is not None else 0
                origin = round(Fraction(container.start_time or 0, 1_000_000) / tb)
                return [float((ts + shift - origin) * tb) for ts in entries]
        end = end_s if math.isfinite(end_s) else 1e12
        window = scan_window(container, max(0.0, start_s), end)
        return sorted(window.seconds(p.pts) for p in window.packets if p.key and p.pts >= 0)
