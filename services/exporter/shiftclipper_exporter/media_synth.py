"""Frame-numbered synthetic videos for the media tests and the export benchmark.

Each frame carries its index as a 12-bit bar code along the top (one black or white block per bit),
which survives H.264 compression, so the first and last frame of any cut can be identified exactly
(no drawtext/freetype needed).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import av
import numpy as np

from .media_probe import MediaError, ffmpeg_exe

BITS = 12


def frame_image(index: int, width: int, height: int) -> np.ndarray:
    """A grey frame: the bar code of `index` on top, a moving ramp below (so frames differ)."""
    img = np.empty((height, width), np.uint8)
    band = max(16, height // 8)
    img[band:] = ((np.arange(width)[None, :] * 3 + index * 5) % 200 + 30).astype(np.uint8)
    img[:band] = 128
    bw = width // BITS
    for b in range(BITS):
        img[: band - 2, b * bw + 2 : (b + 1) * bw - 2] = 235 if (index >> b) & 1 else 16
    return img


def read_frame_index(frame: av.VideoFrame | np.ndarray) -> int:
    img = frame.to_ndarray(format="gray") if isinstance(frame, av.VideoFrame) else frame
    height, width = img.shape[:2]
    band, bw = max(16, height // 8), width // BITS
    pad_y, pad_x = max(1, band // 5), max(1, bw // 5)
    bits = [img[pad_y : band - 2 - pad_y, b * bw + 2 + pad_x : (b + 1) * bw - 2 - pad_x].mean() for b in range(BITS)]
    return sum(1 << b for b, v in enumerate(bits) if v > 128)


def make_numbered_video(
    path: str,
    *,
    frames: int = 120,
    fps: int = 30,
    width: int = 320,
    height: int = 240,
    gop: int = 30,
    audio: bool = False,
    vfr: bool = False,
    video_args: Sequence[str] = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"),
    extra_args: Sequence[str] = (),
    background: str | None = None,
) -> str:
    """Encode `frames` numbered frames. With `vfr`, every second frame lasts two frame intervals
    (frame n is shown at (n + n // 2) / fps). `background` (a lavfi source such as `testsrc2`) replaces
    everything below the bar code with more camera-like content."""
    ff = ffmpeg_exe()
    cmd = [ff, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray"]
    cmd += ["-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    seconds = (frames + frames // 2) / fps if vfr else frames / fps
    vmap, ain = "0:v", 1
    if background:
        band = max(16, height // 8)
        cmd += ["-f", "lavfi", "-i", f"{background}=size={width}x{height}:rate={fps}:duration={seconds:.3f}"]
        cmd += ["-filter_complex", f"[0:v]crop={width}:{band}:0:0[b];[1:v][b]overlay=0:0,format=yuv420p[v]"]
        vmap, ain = "[v]", 2
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds:.3f}"]
    cmd += ["-map", vmap] + (["-map", f"{ain}:a", "-c:a", "aac", "-b:a", "64k"] if audio else [])
    cmd += [*video_args, "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if vfr:
        cmd += ["-vf", f"setpts='(N+floor(N/2))/{fps}/TB'", "-fps_mode", "passthrough"]
    cmd += [*extra_args, path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    for i in range(frames):
        proc.stdin.write(frame_image(i, width, height).tobytes())
    proc.stdin.close()
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.wait() != 0:
        raise MediaError("ffmpeg_failed", err[-2000:])
    return path


def decoded_indices(path: str) -> list[tuple[int, float]]:
    """(frame index read from the bar code, presentation time) of every decoded frame."""
    with av.open(path) as c:
        return [(read_frame_index(f), float(f.time or 0.0)) for f in c.decode(video=0)]
