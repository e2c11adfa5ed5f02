"""Cutting one clip out of a source video: `copy`, `smart` (frame-accurate, mostly stream copy), `reencode`.

Times are seconds from the container start (what ffmpeg's `-ss` means). A clip holds the source frames
whose presentation time t satisfies start <= t < end.

- `copy`: PyAV remux, no decoding. The clip starts at the last keyframe at or before `start` (so it may
  begin up to one GOP early) and ends at the first packet, in decode order, at or after `end` (a decode-
  order prefix is always decodable; with B-frames it may show up to the reorder delay past `end`).
- `smart`: frames [start, k1) and [k2, end] are re-encoded with libx264 matching the source's profile,
  level, pix_fmt, resolution, B-frame delay and time base; [k1, k2) (whole GOPs) is remuxed untouched;
  the concat demuxer joins them (its `auto_convert` puts each part's SPS/PPS in-band, so the parts'
  differing parameter sets stay valid). Audio [start, end) is stream-copied (AAC) or encoded to AAC.
  Anything unusual (not H.264, 4:2:2/4:4:4/10-bit, odd size, open GOP, seek trouble) falls back to
  `reencode`, and the result says why.
- `reencode`: libx264 + AAC, yuv420p, padded to even dimensions, rotation applied, VFR kept.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import av.container

from shiftclipper_contracts.job_setup import ClipMode

from .media_probe import (
    MediaError,
    MediaInfo,
    Pkt,
    Window,
    input_args,
    open_input,
    probe_media,
    run_ffmpeg,
    scan_window,
)

_X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main", "High": "high"}


@dataclass(frozen=True)
class EncodeOptions:
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: str = "128k"
    smart_crf: int = 17
    """Quality of smart mode's re-encoded ends: close to the untouched middle."""
    smart_preset: str = "ultrafast"
    """With B-frames forced back on to match the source's reorder delay: ~2x faster than superfast."""


@dataclass(frozen=True)
class CutResult:
    path: str
    mode: str
    """The mode actually used (`smart` may fall back to `reencode`)."""
    start_s: float
    """Source time of the clip's first frame."""
    end_s: float
    """Source time just after the clip's last frame."""
    duration_s: float
    reencoded_s: float
    has_audio: bool
    fallback_reason: str | None = None


@dataclass(frozen=True)
class _Frames:
    """The frames chosen for a clip, in stream ticks relative to the container start."""

    window: Window
    pts: list[int]
    keys: list[int]
    interval: int

    @property
    def first(self) -> int:
        return self.pts[0]

    @property
    def end(self) -> int:
        return self.pts[-1] + self.interval


def _select(window: Window, start_s: float, end_s: float, fps: float) -> _Frames:
    all_pts = sorted(p.pts for p in window.packets)
    diffs = sorted(b - a for a, b in itertools.pairwise(all_pts) if b > a)
    interval = diffs[len(diffs) // 2] if diffs else window.ticks(1 / (fps or 30))
    eps = interval // 4
    lo, hi = window.ticks(start_s) - eps, window.ticks(end_s) - eps
    pts = [p for p in all_pts if lo <= p < hi]
    if not pts:
        raise MediaError("empty_range", f"no frame between {start_s:.3f} s and {end_s:.3f} s")
    keys = sorted(p.pts for p in window.packets if p.key)
    return _Frames(window, pts, keys, interval)


def _sec(window: Window, ticks: int) -> str:
    return f"{window.seconds(ticks):.6f}"


def _timescale(window: Window) -> str:
    """One mp4 track timescale for every part of a clip: the concat demuxer does not rescale."""
    tb = window.time_base
    return str(tb.denominator if tb.numerator == 1 else 90000)


def _mux_options(path: str, window: Window) -> dict[str, str]:
    if not path.endswith((".mp4", ".m4a", ".mov")):
        return {}
    return {"movflags": "+faststart", "video_track_timescale": _timescale(window)}


def _remux(
    src: str,
    window: Window,
    video: tuple[str, int, Callable[[Pkt], bool]] | None,
    audio: tuple[str, float, float] | None,
) -> None:
    """Stream-copy video packets (decode order, from keyframe `from_pts` until `stop`) and/or audio
    packets with start <= t < end into new files, shifting time so the video/audio start is 0."""
    with open_input(src) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if audio and c.streams.audio else None
        outs: dict[str, av.container.OutputContainer] = {}

        def out(path: str) -> av.container.OutputContainer:
            if path not in outs:
                outs[path] = av.open(path, "w", options=_mux_options(path, window))
            return outs[path]

        ov = out(video[0]).add_stream_from_template(v) if video else None
        oa = out(audio[0]).add_stream_from_template(a) if audio and a else None
        if ov is not None:
            ov.time_base = v.time_base
        try:
            _copy_packets(c, window, v, a, ov, oa, video, audio)
        finally:
            for o in outs.values():
                o.close()


def _copy_packets(c, window, v, a, ov, oa, video, audio) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    origin = window.origin
    c.seek(window.seek + origin, stream=v, backward=True, any_frame=False)
    started, v_done = False, ov is None
    a_done = oa is None
    a_shift = round((window.seconds(origin) + (audio[1] if audio else 0.0)) / a.time_base) if a else 0
    for p in c.demux(*[s for s in (v, a) if s is not None]):
        if p.pts is None or p.size == 0:
            continue
        if p.stream.index == v.index:
            if v_done:
                continue
            pkt = Pkt(p.pts - origin, None if p.dts is None else p.dts - origin, bool(p.is_keyframe))
            if not started:
                if pkt.pts > video[1] and pkt.key:
                    raise MediaError("seek_failed", "the seek landed after the wanted keyframe")
                if not (pkt.key and pkt.pts == video[1]):
                    continue
                started = True
            if video[2](pkt):
                v_done = True
            else:
                _shift(p, video[1] + origin)
                p.stream = ov
                ov.container.mux(p)
        elif not a_done:
            t = float(p.pts * a.time_base) - window.seconds(origin)
            if t >= audio[2]:
                a_done = True
            elif t >= audio[1]:
                _shift(p, a_shift)
                p.stream = oa
                oa.container.mux(p)
        if v_done and a_done:
            break
    if ov is not None and not started:
        raise MediaError("seek_failed", "the wanted keyframe was not found")


def _shift(p: av.Packet, ticks: int) -> None:
    if p.pts is not None:
        p.pts -= ticks
    if p.dts is not None:
        p.dts -= ticks


def _cut_copy(src: str, dst: str, frames: _Frames, end_s: float, info: MediaInfo, tmp: str) -> tuple[float, float]:
    """Returns the source times of the first frame and just after the last frame written."""
    w = frames.window
    k0 = max((k for k in frames.keys if k <= frames.first), default=frames.keys[0])
    stop_at = w.ticks(end_s)

    def stop(p: Pkt) -> bool:
        return (p.dts if p.dts is not None else p.pts) >= stop_at

    aac = info.audio_codec == "aac"
    target = dst if (aac or not info.has_audio) else os.path.join(tmp, "copy.mkv")
    audio = (target, w.seconds(k0), end_s) if info.has_audio else None
    _remux(src, w, (target, k0, stop), audio)
    if target != dst:
        run_ffmpeg(["-i", target, "-map", "0", "-c:v", "copy", "-c:a", "aac", "-movflags", "+faststart", dst])
    order = [p for p in w.packets if p.pts >= k0]
    written = [p.pts for p in order[: next((i for i, p in enumerate(order) if stop(p)), len(order))]]
    return w.seconds(k0), w.seconds(max(written, default=k0) + frames.interval)


def _x264_args(info: MediaInfo, window: Window, delay_frames: int, opts: EncodeOptions) -> list[str]:
    args = ["-c:v", "libx264", "-preset", opts.smart_preset, "-crf", str(opts.smart_crf)]
    args += ["-profile:v", _X264_PROFILES[info.profile], "-pix_fmt", "yuv420p"]
    if info.level > 9:
        args += ["-level:v", f"{info.level / 10:.1f}"]
    if info.pix_fmt == "yuvj420p":
        args += ["-color_range", "pc"]
    # The ends must reorder exactly like the source (same dts delay) or the joins get dts out of order.
    if delay_frames == 0 or info.profile.endswith("Baseline"):
        args += ["-bf", "0"]
    else:
        pyramid = "none" if delay_frames == 1 else "normal"
        args += ["-x264-params", f"bframes=3:b-adapt=0:b-pyramid={pyramid}"]
    return [*args, "-video_track_timescale", _timescale(window)]


def _encode_part(src: str, dst: str, frames: _Frames, first: int, count: int, x264: list[str]) -> None:
    """Re-encode `count` frames starting at frame `first`: seek exactly to the keyframe before it, then
    drop the frames before it on the output side (so a seek can never land on the wrong keyframe)."""
    w = frames.window
    key = max(k for k in frames.keys if k <= first)
    skip = max(0, first - key - frames.interval // 4)
    args = [*input_args(src), "-noautorotate", "-ss", _sec(w, key), "-i", src, "-ss", _sec(w, skip)]
    args += ["-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", str(count), "-fps_mode", "passthrough"]
    run_ffmpeg([*args, *x264, dst])


def _smart_blocker(info: MediaInfo, frames: _Frames) -> str | None:
    if info.video.codec != "h264":
        return f"source codec is {info.video.codec}, not h264"
    if info.profile not in _X264_PROFILES:
        return f"H.264 profile {info.profile!r} is not matched by the smart cut"
    if info.pix_fmt not in ("yuv420p", "yuvj420p") or info.video.width % 2 or info.video.height % 2:
        return f"pixel format {info.pix_fmt} {info.video.width}x{info.video.height} is not matched"
    order = frames.window.packets
    for i, p in enumerate(order):
        if p.key and any(q.pts < p.pts for q in order[i + 1 : i + 4]):
            return "open GOP (frames after a keyframe are shown before it)"
    return None


def _cut_smart(src: str, dst: str, frames: _Frames, info: MediaInfo, opts: EncodeOptions, tmp: str) -> float:
    w, pts = frames.window, frames.pts
    delay = info.reorder_depth
    if delay > 2:
        raise MediaError("smart_unsupported", f"B-frame delay of {delay} frames")
    x264 = _x264_args(info, w, delay, opts)
    inner = [k for k in frames.keys if frames.first <= k <= pts[-1]]
    jobs: list[tuple[str, int, int]] = []  # (path, first pts, frame count) to encode
    parts: list[tuple[str, int]] = []  # (path, duration ticks) in order
    if not inner:
        jobs.append((os.path.join(tmp, "all.mp4"), frames.first, len(pts)))
        parts.append((jobs[-1][0], frames.end - frames.first))
    else:
        k1, k2 = inner[0], inner[-1]
        if frames.first < k1:
            jobs.append((os.path.join(tmp, "head.mp4"), frames.first, sum(p < k1 for p in pts)))
            parts.append((jobs[-1][0], k1 - frames.first))
        if k2 > k1:
            parts.append((os.path.join(tmp, "body.mp4"), k2 - k1))
        jobs.append((os.path.join(tmp, "tail.mp4"), k2, sum(p >= k2 for p in pts)))
        parts.append((jobs[-1][0], frames.end - k2))
    audio_path = os.path.join(tmp, "audio.m4a" if info.audio_codec == "aac" else "audio.mka")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_encode_part, src, path, frames, f, n, x264) for path, f, n in jobs]
        body = next((p for p, _ in parts if p.endswith("body.mp4")), None)
        video = (body, inner[0], _stop_at_key(inner[-1])) if body else None
        audio = (audio_path, w.seconds(frames.first), w.seconds(frames.end)) if info.has_audio else None
        if video or audio:
            _remux(src, w, video, audio)
        for f in futures:
            f.result()
    _concat_parts(dst, parts, w, audio_path if info.has_audio else None, info, tmp)
    _verify(dst, len(pts), w.seconds(frames.end - frames.first))
    return sum(n for _, _, n in jobs) * w.seconds(frames.interval)


def _verify(path: str, count: int, duration_s: float) -> None:
    """Packets only: the joined clip must hold every frame once, in order, with increasing dts."""
    with open_input(path) as c:
        v = c.streams.video[0]
        pkts = [(p.pts, p.dts) for p in c.demux(v) if p.pts is not None]
        last = float(max(p for p, _ in pkts) * (v.time_base or 0)) if pkts else 0.0
    dts = [d for _, d in pkts if d is not None]
    if len(pkts) != count or any(b <= a for a, b in itertools.pairwise(dts)):
        raise MediaError("smart_verify_failed", f"{len(pkts)} packets for {count} frames or dts out of order")
    if not 0 <= duration_s - last <= duration_s / max(count, 1) * 3:
        raise MediaError("smart_verify_failed", f"last frame at {last:.3f} s in a {duration_s:.3f} s clip")


def _stop_at_key(key: int) -> Callable[[Pkt], bool]:
    return lambda p: p.key and p.pts >= key


def _concat_parts(
    dst: str, parts: list[tuple[str, int]], w: Window, audio: str | None, info: MediaInfo, tmp: str
) -> None:
    listing = os.path.join(tmp, "parts.txt")
    with open(listing, "w", encoding="utf-8") as fh:
        fh.write("ffconcat version 1.0\n")
        for path, ticks in parts:
            fh.write(f"file '{os.path.basename(path)}'\nduration {_sec(w, ticks)}\n")
    args = ["-f", "concat", "-safe", "0", "-i", listing]
    if info.rotation:
        args = ["-display_rotation:v:0", str(info.rotation), *args]
    if audio and os.path.getsize(audio) > 0:
        args += ["-i", audio, "-map", "0:v:0", "-map", "1:a:0"]
        args += ["-c:a", "copy" if info.audio_codec == "aac" else "aac"]
    else:
        args += ["-map", "0:v:0"]
    args += ["-video_track_timescale", _timescale(w)]
    run_ffmpeg([*args, "-c:v", "copy", "-movflags", "+faststart", dst])


def _cut_reencode(
    src: str, dst: str, start_s: float, end_s: float, opts: EncodeOptions, frames: _Frames | None, audio: bool
) -> None:
    """Frame-exact when the packet scan worked: seek exactly to the keyframe, trim to the chosen frames,
    restart timestamps at 0. Otherwise plain `-ss`/`-t` input seeking."""
    vf, af = "pad=ceil(iw/2)*2:ceil(ih/2)*2,format=yuv420p", ""
    if frames is None:
        args = [*input_args(src), "-ss", f"{start_s:.6f}", "-i", src, "-t", f"{end_s - start_s:.6f}"]
    else:
        w, first = frames.window, frames.first
        key = max((k for k in frames.keys if k <= first), default=frames.window.packets[0].pts)
        args = [*input_args(src), "-ss", _sec(w, key), "-i", src, "-frames:v", str(len(frames.pts))]
        args += ["-t", _sec(w, frames.end - first)]
        vf = f"trim=start={_sec(w, first - key - frames.interval // 4)},setpts=PTS-STARTPTS,{vf}"
        af = f"atrim=start={_sec(w, first - key)},asetpts=PTS-STARTPTS"
    args += ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-fps_mode", "vfr", "-vf", vf]
    if audio and af:
        args += ["-af", af]
    args += ["-c:v", "libx264", "-preset", opts.preset, "-crf", str(opts.crf), "-profile:v", "high"]
    args += ["-c:a", "aac", "-b:a", opts.audio_bitrate, "-movflags", "+faststart", dst]
    run_ffmpeg(args)


def cut_clip(
    src: str,
    dst: str,
    start_s: float,
    end_s: float,
    mode: ClipMode | str = ClipMode.smart,
    *,
    options: EncodeOptions | None = None,
    info: MediaInfo | None = None,
) -> CutResult:
    """Cut [start_s, end_s) of `src` (path or http(s) URL) into the mp4 `dst` (faststart)."""
    mode = ClipMode(mode)
    opts = options or EncodeOptions()
    info = info or probe_media(src)
    start = min(max(0.0, start_s), info.video.duration_s)
    end = min(max(start, end_s), info.video.duration_s)
    if end - start <= 0:
        raise MediaError("empty_range", f"nothing to cut between {start_s} s and {end_s} s")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="cut-", dir=os.path.dirname(os.path.abspath(dst)))
    try:
        return _cut(src, dst, start, end, mode, opts, info, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cut(
    src: str, dst: str, start: float, end: float, mode: ClipMode, opts: EncodeOptions, info: MediaInfo, tmp: str
) -> CutResult:
    try:
        with open_input(src) as c:
            frames: _Frames | None = _select(scan_window(c, start, end), start, end, info.video.fps)
    except MediaError as exc:
        if mode is ClipMode.copy or exc.code == "empty_range":
            raise
        frames = None
    reason: str | None = None
    if frames is not None and mode is ClipMode.copy:
        first, last = _cut_copy(src, dst, frames, end, info, tmp)
        return _result(dst, mode, first, last, 0.0, info)
    if frames is not None and mode is ClipMode.smart:
        reason = _smart_blocker(info, frames)
        if reason is None:
            try:
                redone = _cut_smart(src, dst, frames, info, opts, tmp)
                w = frames.window
                return _result(dst, mode, w.seconds(frames.first), w.seconds(frames.end), redone, info)
            except MediaError as exc:
                reason = f"{exc.code}: {exc.message}"
    elif mode is ClipMode.smart:
        reason = "the packet scan failed"
    _cut_reencode(src, dst, start, end, opts, frames, info.has_audio)
    if frames is not None:
        start, end = frames.window.seconds(frames.first), frames.window.seconds(frames.end)
    res = _result(dst, ClipMode.reencode, start, end, end - start, info)
    return CutResult(**{**res.__dict__, "fallback_reason": reason})


def _result(dst: str, mode: ClipMode, start: float, end: float, redone: float, info: MediaInfo) -> CutResult:
    with open_input(dst) as c:
        duration = (c.duration or 0) / 1e6
        has_audio = bool(c.streams.audio)
    return CutResult(dst, mode.value, round(start, 6), round(end, 6), round(duration, 6), round(redone, 6), has_audio)
