"""The combined reel: concat demuxer with stream copy when every clip shares its codec parameters,
otherwise (or when fades or title cards are asked for) one re-encode through the concat filter."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from .media_cut import EncodeOptions
from .media_probe import MediaError, open_input, run_ffmpeg
from .media_titles import make_card


@dataclass(frozen=True)
class ReelResult:
    path: str
    mode: str
    """`copy` or `reencode`."""
    duration_s: float
    clip_count: int


@dataclass(frozen=True)
class _Clip:
    path: str
    duration_s: float
    signature: tuple[object, ...]
    width: int
    height: int
    has_audio: bool


def _inspect(path: str) -> _Clip:
    with open_input(path) as c:
        if not c.streams.video:
            raise MediaError("no_video_stream", f"{os.path.basename(path)} has no video")
        v = c.streams.video[0]
        vc = v.codec_context
        sig: list[object] = [vc.name, vc.width, vc.height, vc.pix_fmt, v.profile, v.time_base]
        a = c.streams.audio[0] if c.streams.audio else None
        if a is not None:
            ac = a.codec_context
            sig += [ac.name, ac.sample_rate, ac.layout.name if ac.layout else None]
        return _Clip(path, (c.duration or 0) / 1e6, tuple(sig), vc.width, vc.height, a is not None)


def _concat_copy(clips: list[_Clip], dst: str) -> None:
    fd, listing = tempfile.mkstemp(suffix=".txt", prefix="reel-", dir=os.path.dirname(os.path.abspath(dst)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("ffconcat version 1.0\n")
            for clip in clips:
                escaped = os.path.abspath(clip.path).replace("'", "'\\''")
                fh.write(f"file '{escaped}'\n")
        run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing, "-map", "0", "-c", "copy", "-movflags", "+faststart", dst]
        )
    finally:
        os.unlink(listing)


def _filter_graph(clips: list[_Clip], fade_s: float) -> tuple[str, bool]:
    width, height = clips[0].width + clips[0].width % 2, clips[0].height + clips[0].height % 2
    audio = any(c.has_audio for c in clips)
    chains, labels = [], []
    for i, clip in enumerate(clips):
        v = (
            f"[{i}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
        )
        a = f"[{i}:a:0]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
        if not clip.has_audio:
            a = f"anullsrc=r=48000:cl=stereo,atrim=duration={clip.duration_s:.6f}"
        if fade_s > 0:
            f, out = min(fade_s, clip.duration_s / 2), max(0.0, clip.duration_s - min(fade_s, clip.duration_s / 2))
            v += f",fade=t=in:st=0:d={f:.3f},fade=t=out:st={out:.3f}:d={f:.3f}"
            a += f",afade=t=in:st=0:d={f:.3f},afade=t=out:st={out:.3f}:d={f:.3f}"
        chains.append(f"{v}[v{i}]")
        labels.append(f"[v{i}]")
        if audio:
            chains.append(f"{a}[a{i}]")
            labels.append(f"[a{i}]")
    concat = f"{''.join(labels)}concat=n={len(clips)}:v=1:a={int(audio)}[v]" + ("[a]" if audio else "")
    return ";".join([*chains, concat]), audio


def _concat_reencode(clips: list[_Clip], dst: str, fade_s: float, opts: EncodeOptions) -> None:
    graph, audio = _filter_graph(clips, fade_s)
    args: list[str] = []
    for clip in clips:
        args += ["-i", clip.path]
    args += ["-filter_complex", graph, "-map", "[v]"] + (["-map", "[a]"] if audio else [])
    args += ["-fps_mode", "vfr", "-c:v", "libx264", "-preset", opts.preset, "-crf", str(opts.crf)]
    args += ["-profile:v", "high", "-c:a", "aac", "-b:a", opts.audio_bitrate, "-movflags", "+faststart", dst]
    run_ffmpeg(args)


def _with_cards(infos: list[_Clip], titles: Sequence[list[str]], directory: str, card_s: float) -> list[_Clip]:
    """A title card (the first clip's size and frame rate) before each clip."""
    first = infos[0]
    with open_input(first.path) as c:
        fps = float(c.streams.video[0].average_rate or 30)
    out: list[_Clip] = []
    for i, (clip, lines) in enumerate(zip(infos, titles, strict=True)):
        card = make_card(os.path.join(directory, f"card{i:03d}.mp4"), lines, first.width, first.height, card_s, fps)
        out += [_inspect(card), clip]
    return out


def build_reel(
    clips: Sequence[str],
    dst: str,
    *,
    fade_s: float = 0.0,
    options: EncodeOptions | None = None,
    titles: Sequence[list[str]] | None = None,
    card_s: float = 1.5,
) -> ReelResult:
    """Join clips in order into the mp4 `dst`. `fade_s` > 0 adds a fade in/out per clip; `titles` (text
    lines per clip) puts a `card_s` title card before each clip. Either re-encodes."""
    if not clips:
        raise MediaError("no_clips", "a reel needs at least one clip")
    infos = [_inspect(p) for p in clips]
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cards-", dir=os.path.dirname(os.path.abspath(dst))) as tmp:
        parts = _with_cards(infos, titles, tmp, card_s) if titles else infos
        mode = _join(parts, dst, fade_s, options, force_reencode=bool(titles))
    with open_input(dst) as c:
        duration = (c.duration or 0) / 1e6
    return ReelResult(dst, mode, round(duration, 6), len(infos))


def _join(infos: list[_Clip], dst: str, fade_s: float, options: EncodeOptions | None, force_reencode: bool) -> str:
    same = all(i.signature == infos[0].signature for i in infos)
    if same and fade_s <= 0 and not force_reencode:
        _concat_copy(infos, dst)
        return "copy"
    _concat_reencode(infos, dst, fade_s, options or EncodeOptions())
    return "reencode"
