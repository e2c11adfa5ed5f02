"""Every clip mode and the odd inputs, through the real exporter against the real S3 server: the source
is an object in S3 (read by the exporter through a presigned URL), the clip is read back from S3.

Sources are frame-numbered (each frame's index is a bar code), so the first and last frame of a smart
or re-encoded clip are checked exactly. Every case is submitted up front so the exporter cuts them
concurrently while the tests check the ones already done.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest

from shiftclipper_common.bus import connect, publish_event, read_status
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_exporter.media import ffmpeg_exe, probe, probe_media
from shiftclipper_exporter.media_synth import decoded_indices, make_numbered_video
from shiftclipper_projector.consumer import run_projector
from tests.integration.test_exporter import assert_faststart
from tests.support.services import service_env, start_service

FPS, FRAMES = 30, 120  # 4 s, a keyframe every second
WINDOW = (0.55, 2.45)  # both ends between keyframes


@dataclass(frozen=True)
class Case:
    source: str
    mode: str
    exact: bool = True
    """Smart and re-encode cuts hold exactly the frames in the window."""
    audio: bool = True
    size: tuple[int, int] = (320, 240)
    rotation: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.source}-{self.mode}"


CASES = [
    Case("plain.mp4", "smart"),
    Case("plain.mp4", "copy", exact=False),
    Case("plain.mp4", "reencode"),
    Case("vfr.mp4", "smart"),
    Case("vfr.mp4", "reencode"),
    Case("rotated.mp4", "smart", rotation=90),
    Case("rotated.mp4", "reencode", exact=False, size=(240, 320)),  # re-encoding applies the rotation
    Case("odd.mp4", "smart", size=(322, 182)),  # 322x181 4:4:4 falls back to re-encode, padded to even
    Case("silent.mp4", "smart", audio=False),
    Case("silent.mp4", "copy", exact=False, audio=False),
    Case("c.mov", "smart"),
    Case("c.mkv", "copy", exact=False),
    Case("c.ts", "smart"),
]


def make_source(directory: Path, name: str) -> Path:
    path = directory / name
    if path.exists():
        return path
    kw: dict = {"frames": FRAMES, "fps": FPS, "gop": FPS, "audio": True}
    if name == "vfr.mp4":
        kw["vfr"] = True
    elif name == "odd.mp4":
        kw.update(width=322, height=181, video_args=("-c:v", "libx264", "-pix_fmt", "yuv444p"))
    elif name == "silent.mp4":
        kw["audio"] = False
    elif name == "rotated.mp4":
        plain = make_source(directory, "plain.mp4")
        cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", "90", "-i", str(plain), "-c", "copy"]
        subprocess.run([*cmd, str(path)], check=True)
        return path
    return Path(make_numbered_video(str(path), **kw))


@pytest.fixture(scope="module")
async def submitted(infra, tmp_path_factory):
    """Exporter (a real service process) and projector running; one job per case, its source in S3 and
    its segment event published. Yields {case id: (job_id, local source, store)}."""
    logs, sources = tmp_path_factory.mktemp("logs"), tmp_path_factory.mktemp("sources")
    for case in CASES:
        make_source(sources, case.source)
    exporter = start_service("exporter", service_env(infra.config), logs)
    nc, js = await connect(infra.config, "media-test")
    stop = asyncio.Event()
    projector = asyncio.create_task(run_projector(js, stop))
    store = await ObjectStore(infra.config).start()
    jobs = {}
    for case in CASES:
        src = make_source(sources, case.source)
        job_id = secrets.token_hex(8)
        key = names.input_key(job_id, src.suffix)
        await store.put_file(key, src, "video/mp4")
        await publish_event(js, ev.JobCreated(job_id=job_id, name=case.id, owner="alice"), "")
        await publish_event(js, ev.JobQueued(job_id=job_id, attempt=1), "")
        spec = ev.ExportSpec(
            video_key=key, video=probe(str(src)), pre_roll_s=0.0, post_roll_s=0.0, clip_mode=case.mode, reel=False
        )
        segment = ev.Segment(index=0, start_s=WINDOW[0], end_s=WINDOW[1], confidence=1.0)
        await publish_event(js, ev.SegmentFound(job_id=job_id, attempt=1, segment=segment, export=spec), "0")
        jobs[case.id] = (job_id, src)
    yield jobs, js, store
    stop.set()
    await projector
    await store.close()
    await nc.close()
    exporter.stop()


async def clip_from_s3(js, store, job_id: str, dst: Path, timeout: float = 120.0) -> Path:
    kv = await js.key_value(names.STATUS_BUCKET)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await read_status(kv, job_id)
        assert status is not None and status.status != "failed", status
        if status.clips_ready:
            await store.download(names.clip_key(job_id, 0), dst)
            return dst
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no clip for {job_id}")


def source_frames(src: Path) -> tuple[list[int], list[float]]:
    """The source's frame indices and their times from the container start."""
    start = probe_media(str(src)).start_time_s
    frames = decoded_indices(str(src))
    return [i for i, _ in frames], [t - start for _, t in frames]


def expected_range(src: Path) -> list[int]:
    ids, times = source_frames(src)
    eps = 0.25 / FPS
    return [i for i, t in zip(ids, times, strict=True) if WINDOW[0] - eps <= t < WINDOW[1] - eps]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_clip_mode_and_input(submitted, case: Case, tmp_path: Path) -> None:
    jobs, js, store = submitted
    job_id, src = jobs[case.id]
    clip = await clip_from_s3(js, store, job_id, tmp_path / "clip.mp4")
    assert_faststart(clip)
    info = probe_media(str(clip))
    assert (info.video.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.video.width, info.video.height, info.rotation) == (*case.size, case.rotation)
    assert info.has_audio == case.audio and info.audio_codec in (None, "aac")
    with av.open(str(clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))  # every frame decodes: playable
    assert frames > 0
    if case.rotation:  # the bar code is read on the stored (unrotated) frames
        assert probe_media(str(src)).rotation == 90
    if case.exact:
        wanted = expected_range(src)
        got = decoded_indices(str(clip))
        assert [i for i, _ in got] == wanted, (case, [i for i, _ in got][:3], wanted[:3])
        assert got[0][1] == pytest.approx(0.0, abs=1e-3)
        ids, times = source_frames(src)
        span = times[ids.index(wanted[-1])] - times[ids.index(wanted[0])]
        # Duration: the frames' span plus the last frame's own duration (VFR: one or two intervals).
        assert span + 0.5 / FPS < info.video.duration_s < span + 2.5 / FPS, (span, info.video.duration_s)
    elif case.mode == "copy":  # starts at the keyframe at or before the window, holds the whole window
        ids = [i for i, _ in decoded_indices(str(clip))]
        assert ids[0] % FPS == 0 and ids[0] / FPS <= WINDOW[0] < ids[0] / FPS + 1
        assert ids == list(range(ids[0], ids[-1] + 1)) and (ids[-1] + 1) / FPS >= WINDOW[1] - 1e-6
    else:  # rotation applied: the frames are turned, so count them instead of reading them
        assert frames == len(expected_range(make_source(src.parent, "plain.mp4")))
    vfr_gaps = {round(b - a, 2) for a, b in itertools.pairwise(t for _, t in decoded_indices(str(clip)))}
    assert len(vfr_gaps) == (2 if case.source == "vfr.mp4" else 1)  # variable frame timing survives
