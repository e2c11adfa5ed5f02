"""The exporter's media functions: probe, keyframes, clip cutting, reel, thumbnail, preview proxy.

Pure, blocking functions over local paths or http(s) URLs (the service calls them via
`asyncio.to_thread`). The implementation is split over `media_probe`, `media_cut` and `media_reel`;
this module is the public surface.
"""

from __future__ import annotations

import os

from .media_cut import CutResult, EncodeOptions, cut_clip
from .media_probe import (
    MediaError,
    MediaInfo,
    ffmpeg_exe,
    input_args,
    keyframe_times,
    probe,
    probe_media,
    run_ffmpeg,
)
from .media_reel import ReelResult, build_reel

__all__ = [
    "CutResult",
    "EncodeOptions",
    "MediaError",
    "MediaInfo",
    "ReelResult",
    "build_reel",
    "cut_clip",
    "ffmpeg_exe",
    "keyframe_times",
    "make_proxy",
    "probe",
    "probe_media",
    "thumbnail",
]


def thumbnail(src: str, dst_jpg: str, t_s: float, width: int = 320) -> str:
    """A JPEG of the frame at `t_s` (clamped into the video), `width` pixels wide, rotation applied."""
    info = probe_media(src)
    last = max(0.0, info.video.duration_s - 2.0 / (info.video.fps or 30.0))
    os.makedirs(os.path.dirname(os.path.abspath(dst_jpg)), exist_ok=True)
    for t in (min(max(0.0, t_s), last), 0.0):
        args = [*input_args(src), "-ss", f"{t:.6f}", "-i", src, "-map", "0:v:0", "-frames:v", "1"]
        run_ffmpeg([*args, "-vf", f"scale={width}:-2", "-q:v", "3", "-update", "1", dst_jpg])
        if os.path.isfile(dst_jpg) and os.path.getsize(dst_jpg) > 0:
            return dst_jpg
    raise MediaError("thumbnail_failed", f"no frame at {t_s:.3f} s")


def make_proxy(src: str, dst: str, height: int = 360, crf: int = 28, preset: str = "veryfast") -> str:
    """A small H.264/AAC preview for the web UI: at most `height` lines, a keyframe every 2 s."""
    info = probe_media(src)
    args = [*input_args(src), "-i", src, "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]
    args += ["-vf", f"scale=-2:'trunc(min({height},ih)/2)*2',format=yuv420p", "-fps_mode", "vfr"]
    args += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-force_key_frames", "expr:gte(t,n_forced*2)"]
    args += ["-c:a", "aac", "-b:a", "64k", "-ac", "2"] if info.has_audio else []
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    run_ffmpeg([*args, "-movflags", "+faststart", dst])
    return dst
