"""End to end on real footage: the practice clip through gateway -> tracker -> exporter, over HTTP
and SSE exactly as a client sees it. #19 is visible from about 1 s to the end (11.2 s)."""

from __future__ import annotations

import json

import av
import httpx
import pytest

from tests.conftest import PRACTICE_CLIP, TFLITE_MODEL, needs_shared
from tests.support.services import gateway, service_env, start_service

ALICE = {"X-API-Key": "alice-key-123"}
pytestmark = [pytest.mark.slow, needs_shared(PRACTICE_CLIP, TFLITE_MODEL)]


@pytest.fixture(scope="module")
def full_stack(infra, tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    env = service_env(infra.config, SHIFTCLIPPER_MODEL_PATH=str(TFLITE_MODEL))
    workers = [start_service("tracker", env, logs), start_service("exporter", env, logs)]
    with gateway(infra.config, logs) as url:
        yield url
    for worker in workers:
        worker.stop()


def test_practice_clip_number_19(full_stack, tmp_path):
    client = httpx.Client(base_url=full_stack, headers=ALICE, timeout=60)
    job_id = client.post("/jobs", json={"name": "practice"}).json()["job_id"]
    with PRACTICE_CLIP.open("rb") as handle:
        client.put(
            f"/jobs/{job_id}/video?filename=practice.mp4", content=handle.read(), headers={"Content-Type": "video/mp4"}
        ).raise_for_status()
    client.put(
        f"/jobs/{job_id}/setup", json={"jersey_number": "19", "jersey_color": "red", "debug_overlay": True}
    ).raise_for_status()
    client.post(f"/jobs/{job_id}/run").raise_for_status()

    seen = []
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=httpx.Timeout(60, read=600)) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:") and "{" in line:
                seen.append(json.loads(line[5:]))
    states = [s["status"] for s in seen]
    assert states[-1] == "done", seen[-1]
    assert "tracking" in states and "exporting" in states
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress), "progress went backwards"

    results = client.get(f"/jobs/{job_id}/results").json()
    assert results["shift_count"] == 1, results["shifts"]
    shift = results["shifts"][0]
    assert 0.3 <= shift["start_s"] <= 2.0 and shift["end_s"] >= 9.5
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(client.get(f"/jobs/{job_id}/artifacts/clips/000.mp4").content)
    with av.open(str(clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 200  # ~10 s at 30 fps, decodable end to end
    assert client.get(f"/jobs/{job_id}/artifacts/reel.mp4", headers={"Range": "bytes=0-99"}).status_code == 206
    _check_debug_artifacts(client, job_id, results, tmp_path)


def _check_debug_artifacts(client: httpx.Client, job_id: str, results: dict, tmp_path) -> None:
    """The overlay asked for in the setup plays as browser-ready H.264 at the processed frame rate
    (10 fps, broadcast preset) over the whole 11.2 s clip; the timeline records the lock and the shift."""
    assert results["debug"]["overlay_key"].endswith("debug/overlay.mp4")
    overlay = tmp_path / "overlay.mp4"
    overlay.write_bytes(client.get(f"/jobs/{job_id}/artifacts/debug/overlay.mp4").content)
    with av.open(str(overlay)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = sum(1 for _ in container.decode(video=0))
    assert 100 <= frames <= 115
    head = overlay.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))
    timeline = client.get(f"/jobs/{job_id}/artifacts/debug/timeline.json").json()
    kinds = {entry["kind"] for entry in timeline}
    assert {"locked", "shift_start", "segment"} <= kinds, kinds
