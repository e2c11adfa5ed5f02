"""The exporter's media functions on small frame-numbered videos (each frame's index is a bar code)."""

from __future__ import annotations

import functools
import http.server
import itertools
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from shiftclipper_exporter.media import (
    MediaError,
    build_reel,
    cut_clip,
    ffmpeg_exe,
    keyframe_times,
    make_proxy,
    probe,
    probe_media,
    thumbnail,
)
from shiftclipper_exporter.media_synth import decoded_indices, make_numbered_video, read_frame_index
from shiftclipper_exporter.media_titles import clock, render_card, title_lines

FPS = 30
FRAMES = 120  # 4 s, a keyframe every second


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@functools.cache
def _video(directory: str, name: str, **kw: object) -> str:
    return make_numbered_video(os.path.join(directory, name), frames=FRAMES, fps=FPS, gop=FPS, **kw)  # type: ignore[arg-type]


def video(media: Path, name: str, **kw: object) -> str:
    return _video(str(media), name, **kw)


def source_times(path: str) -> list[float]:
    """Presentation time of frame i of a numbered source, relative to the container start."""
    start = probe_media(path).start_time_s
    return [t - start for _, t in decoded_indices(path)]


def expected_frames(path: str, start: float, end: float) -> tuple[int, int]:
    times = source_times(path)
    eps = 0.25 / FPS
    chosen = [i for i, t in enumerate(times) if start - eps <= t < end - eps]
    return chosen[0], chosen[-1]


def assert_exact(path: str, src: str, start: float, end: float) -> None:
    frames = decoded_indices(path)
    first, last = expected_frames(src, start, end)
    ids = [i for i, _ in frames]
    assert ids == list(range(first, last + 1)), (ids[:3], ids[-3:], first, last)
    assert frames[0][1] == pytest.approx(0.0, abs=1e-3)


def assert_playable_mp4(path: str) -> None:
    with av.open(path) as c:
        assert "mp4" in c.format.name
        assert sum(1 for _ in c.decode(video=0)) > 0
    with open(path, "rb") as fh:  # +faststart: the moov box comes before mdat
        head = fh.read(4096)
    assert head.find(b"moov") != -1 or head.find(b"mdat") == -1


# --- probe -----------------------------------------------------------------------------------------


def test_probe_reports_the_video(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    info = probe(src)
    assert (info.width, info.height, info.codec, info.filename) == (320, 240, "h264", "a.mp4")
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert info.fps == pytest.approx(30.0)
    assert info.size == os.path.getsize(src)
    extra = probe_media(src)
    assert extra.has_audio and extra.audio_codec == "aac" and extra.rotation == 0


def test_keyframe_times_from_index_and_packets(media: Path) -> None:
    for name in ("a.mp4", "a.mkv", "a.ts"):
        src = video(media, name, audio=True)
        offset = source_times(src)[0]
        assert keyframe_times(src) == pytest.approx([offset + k for k in (0, 1, 2, 3)], abs=2e-3)
    assert keyframe_times(video(media, "a.mp4", audio=True), 1.5, 3.5) == pytest.approx([1.0, 2.0, 3.0])


@pytest.mark.parametrize("kind", ["zero", "truncated", "text", "audio_only", "missing"])
def test_bad_inputs_raise_media_error(media: Path, kind: str) -> None:
    path = media / f"bad_{kind}.mp4"
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated":  # moov at the end (no faststart): cutting the tail loses the index
        data = Path(video(media, "a.mp4", audio=True)).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("not a video at all\n" * 100)
    elif kind == "audio_only":
        cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"]
        subprocess.run([*cmd, str(path.with_suffix(".m4a"))], check=True)
        path = path.with_suffix(".m4a")
    with pytest.raises(MediaError) as err:
        probe(str(path))
    expected = {"audio_only": "no_video_stream", "missing": "video_not_found"}.get(kind, "video_unreadable")
    assert err.value.code == expected
    if kind != "missing":
        with pytest.raises(MediaError):
            cut_clip(str(path), str(media / "never.mp4"), 0, 1, "smart")


def test_truncated_faststart_file_is_unreadable(media: Path) -> None:
    src = video(media, "fs.mp4", extra_args=("-movflags", "+faststart"))
    data = Path(src).read_bytes()
    moov_end = data.find(b"mdat") + 8
    path = media / "bad_fs.mp4"
    path.write_bytes(data[:moov_end])
    with pytest.raises(MediaError) as err:
        probe(str(path))
    assert err.value.code == "video_unreadable"


# --- cutting ---------------------------------------------------------------------------------------

WINDOWS = [(0.55, 2.45), (1.0, 3.0), (1.2, 1.6), (2.5, 99.0), (0.0, 1.0)]


@pytest.mark.parametrize("mode", ["smart", "reencode"])
@pytest.mark.parametrize("window", WINDOWS)
def test_frame_exact_modes(media: Path, mode: str, window: tuple[float, float]) -> None:
    src = video(media, "a.mp4", audio=True)
    dst = str(media / f"exact_{mode}_{window[0]}_{window[1]}.mp4")
    res = cut_clip(src, dst, *window, mode)
    assert res.mode == mode and res.fallback_reason is None
    assert_playable_mp4(dst)
    assert_exact(dst, src, window[0], min(window[1], 4.0))
    assert res.has_audio
    assert res.duration_s == pytest.approx(res.end_s - res.start_s, abs=0.06)


def test_smart_reencodes_only_the_ends(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    res = cut_clip(src, str(media / "ends.mp4"), 0.55, 3.45, "smart")
    assert res.reencoded_s == pytest.approx((1.0 - 0.5667) + (3.4667 - 3.0), abs=0.02)
    with av.open(res.path) as c:  # the untouched middle is still the source's bitstream
        keys = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.is_keyframe and p.pts is not None]
    assert keys[:3] == pytest.approx([0.0, 1.0 - 0.5667, 2.0 - 0.5667], abs=0.01)


@pytest.mark.parametrize("window", [(0.55, 2.45), (1.0, 3.0), (3.5, 4.0)])
def test_copy_starts_at_a_keyframe_at_or_before_start(media: Path, window: tuple[float, float]) -> None:
    src = video(media, "a.mp4", audio=True)
    res = cut_clip(src, str(media / f"copy_{window[0]}.mp4"), *window, "copy")
    assert_playable_mp4(res.path)
    ids = [i for i, _ in decoded_indices(res.path)]
    assert ids[0] % FPS == 0 and ids[0] / FPS <= window[0] < ids[0] / FPS + 1
    assert ids == list(range(ids[0], ids[-1] + 1))
    assert (ids[-1] + 1) / FPS >= min(window[1], 4.0) - 1e-6
    assert res.start_s == pytest.approx(ids[0] / FPS) and res.has_audio


@pytest.mark.parametrize("mode", ["copy", "smart", "reencode"])
def test_no_audio(media: Path, mode: str) -> None:
    src = video(media, "silent.mp4")
    res = cut_clip(src, str(media / f"silent_{mode}.mp4"), 0.5, 2.5, mode)
    assert_playable_mp4(res.path)
    assert not res.has_audio and res.mode == mode


@pytest.mark.parametrize("name", ["c.mkv", "c.mov", "c.ts"])
@pytest.mark.parametrize("mode", ["copy", "smart", "reencode"])
def test_containers(media: Path, name: str, mode: str) -> None:
    src = video(media, name, audio=True)
    res = cut_clip(src, str(media / f"{name}_{mode}.mp4"), 0.55, 2.45, mode)
    assert res.mode == mode, res.fallback_reason
    assert_playable_mp4(res.path)
    assert res.has_audio
    with av.open(res.path) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    if mode != "copy":
        assert_exact(res.path, src, 0.55, 2.45)


@pytest.mark.parametrize("mode", ["copy", "smart"])
def test_non_aac_audio_becomes_aac(media: Path, mode: str) -> None:
    src = make_numbered_video(str(media / "opus.mkv"), frames=90, audio=True, extra_args=("-c:a", "libopus"))
    res = cut_clip(src, str(media / f"opus_{mode}.mp4"), 0.5, 2.5, mode)
    with av.open(res.path) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in c.decode(audio=0)) > 10


def test_odd_resolution(media: Path) -> None:
    src = video(media, "odd.mp4", width=321, height=241, video_args=("-c:v", "libx264", "-pix_fmt", "yuv444p"))
    res = cut_clip(src, str(media / "odd_re.mp4"), 0.55, 2.45, "reencode")
    info = probe_media(res.path)
    assert (info.video.width, info.video.height, info.pix_fmt) == (322, 242, "yuv420p")
    assert_exact(res.path, src, 0.55, 2.45)
    smart = cut_clip(src, str(media / "odd_smart.mp4"), 0.55, 2.45, "smart")
    assert smart.mode == "reencode" and smart.fallback_reason  # 4:4:4 cannot be matched: falls back
    assert_exact(smart.path, src, 0.55, 2.45)


def test_rotation(media: Path) -> None:
    src = str(media / "rot.mp4")
    plain = video(media, "a.mp4", audio=True)
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", "90", "-i", plain, "-c", "copy", src]
    subprocess.run(cmd, check=True)
    assert probe_media(src).rotation == 90
    for mode in ("copy", "smart"):
        res = cut_clip(src, str(media / f"rot_{mode}.mp4"), 0.55, 2.45, mode)
        assert res.mode == mode and probe_media(res.path).rotation == 90
    res = cut_clip(src, str(media / "rot_re.mp4"), 0.55, 2.45, "reencode")
    info = probe_media(res.path)  # re-encoding applies the rotation
    assert (info.video.width, info.video.height, info.rotation) == (240, 320, 0)
    assert len(decoded_indices(res.path)) == 57


@pytest.mark.parametrize("mode", ["smart", "reencode"])
def test_vfr(media: Path, mode: str) -> None:
    src = video(media, "vfr.mp4", vfr=True, audio=True)
    times = source_times(src)
    assert len({round(b - a, 4) for a, b in itertools.pairwise(times)}) == 2
    res = cut_clip(src, str(media / f"vfr_{mode}.mp4"), 0.55, 3.9, mode)
    assert res.mode == mode, res.fallback_reason
    assert_exact(res.path, src, 0.55, 3.9)
    out = [t for _, t in decoded_indices(res.path)]  # the variable timing survives
    first = expected_frames(src, 0.55, 3.9)[0]
    assert out == pytest.approx([t - times[first] for t in times[first : first + len(out)]], abs=2e-3)


def test_clamps_to_the_video(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    res = cut_clip(src, str(media / "clamp.mp4"), -3.0, 50.0, "smart")
    assert [i for i, _ in decoded_indices(res.path)] == list(range(FRAMES))
    with pytest.raises(MediaError) as err:
        cut_clip(src, str(media / "empty.mp4"), 9.0, 12.0, "smart")
    assert err.value.code == "empty_range"


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves byte ranges like S3 does."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.translate_path(self.path.split("?")[0])
        data = Path(path).read_bytes()
        rng = self.headers.get("Range")
        start, end = 0, len(data) - 1
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start, end = int(a or 0), int(b) if b else len(data) - 1
        self.send_response(206 if rng else 200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        self.wfile.write(data[start : end + 1])


@pytest.fixture(scope="module")
def http_base(media: Path) -> Iterator[str]:
    handler = functools.partial(_RangeHandler, directory=str(media))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("mode", ["copy", "smart", "reencode"])
def test_url_source(media: Path, http_base: str, mode: str) -> None:
    src = video(media, "a.mp4", audio=True)
    url = f"{http_base}/a.mp4?X-Amz-Signature=abc"
    assert probe(url).filename == "a.mp4"
    res = cut_clip(url, str(media / f"url_{mode}.mp4"), 0.55, 2.45, mode)
    if mode != "copy":
        assert_exact(res.path, src, 0.55, 2.45)


# --- reel, thumbnail, proxy ------------------------------------------------------------------------


def test_reel_copy_concat(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    clips = [
        cut_clip(src, str(media / f"reel_{i}.mp4"), s, e, "smart")
        for i, (s, e) in enumerate([(0.2, 1.3), (1.5, 2.9), (3.0, 3.9)])
    ]
    reel = build_reel([c.path for c in clips], str(media / "reel.mp4"))
    assert reel.mode == "copy" and reel.clip_count == 3
    assert reel.duration_s == pytest.approx(sum(c.duration_s for c in clips), abs=0.1)
    ids = [i for i, _ in decoded_indices(reel.path)]
    want = [i for c in clips for i, _ in decoded_indices(c.path)]
    assert ids == want


def test_reel_mixed_clips_reencode_with_fade(media: Path) -> None:
    a = cut_clip(video(media, "a.mp4", audio=True), str(media / "m1.mp4"), 0.5, 1.5, "smart")
    b = cut_clip(video(media, "silent.mp4"), str(media / "m2.mp4"), 1.0, 2.0, "reencode")
    reel = build_reel([a.path, b.path], str(media / "mixed.mp4"))
    assert reel.mode == "reencode"
    assert reel.duration_s == pytest.approx(a.duration_s + b.duration_s, abs=0.15)
    faded = build_reel([a.path, a.path], str(media / "faded.mp4"), fade_s=0.3)
    assert faded.mode == "reencode" and faded.duration_s == pytest.approx(2 * a.duration_s, abs=0.15)
    assert probe_media(faded.path).has_audio


def test_thumbnail(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    for t in (1.5, 100.0, -1.0):
        out = thumbnail(src, str(media / f"thumb_{t}.jpg"), t, width=160)
        with open(out, "rb") as fh:
            assert fh.read(3) == b"\xff\xd8\xff"
        with av.open(out) as c:
            frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)


def test_proxy(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    out = make_proxy(src, str(media / "proxy.mp4"), height=120)
    info = probe_media(out)
    assert (info.video.width, info.video.height, info.video.codec, info.has_audio) == (160, 120, "h264", True)
    assert info.video.duration_s == pytest.approx(4.0, abs=0.1)


def test_reel_title_cards(media: Path) -> None:
    src = video(media, "a.mp4", audio=True)
    clips = [
        cut_clip(src, str(media / f"titled_{i}.mp4"), s, e, "smart").path for i, (s, e) in enumerate([(0, 1), (2, 3)])
    ]
    titles = [title_lines(i, 60.0 * i + 5, 60.0 * i + 50) for i in range(2)]
    assert titles[1] == ["SHIFT 2", "1:05 - 1:50", "0:45"]
    reel = build_reel(clips, str(media / "titled.mp4"), titles=titles, card_s=1.0)
    assert reel.mode == "reencode" and reel.clip_count == 2
    assert reel.duration_s == pytest.approx(4.0, abs=0.15)  # two 1 s cards + two 1 s clips
    with av.open(reel.path) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
        assert c.streams.audio  # silence under the cards keeps the audio track continuous
    card = render_card(titles[0], 320, 240)
    assert (card == 235).any() and np.median(card) == 24  # white text on near-black
    assert abs(frames[0].astype(int) - card).mean() < 6  # the reel opens with the first card
    assert read_frame_index(frames[FPS + 2]) == 2  # then the first clip (frames 0..29)
    assert clock(3725.0) == "1:02:05"
