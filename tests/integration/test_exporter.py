"""The exporter and projector against real NATS + S3: segment events in, clips, reel and results out.
No detector needed: the test publishes the tracker's events itself."""

from __future__ import annotations

import av
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_common.localinfra import free_port
from shiftclipper_contracts import events as ev
from tests.support.fake_tracker import export_spec, publish_done, publish_segments
from tests.support.services import gateway, service_env, start_service, wait_status
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}


@pytest.fixture(scope="module")
def stack(infra, tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    metrics_port = free_port()
    exporter = start_service("exporter", service_env(infra.config, SHIFTCLIPPER_METRICS_PORT=str(metrics_port)), logs)
    with gateway(infra.config, logs) as url:
        yield url, metrics_port
    exporter.stop()


async def test_segments_become_clips_reel_and_results(infra, stack, tmp_path):
    stack, metrics_port = stack
    video = make_video(tmp_path / "game.mp4", seconds=12.0, fps=25)
    client = httpx.Client(base_url=stack, headers=ALICE, timeout=60)
    job = client.post("/jobs", json={"name": "exp", "setup": {"jersey_number": "19", "jersey_color": "red"}}).json()
    job_id = job["job_id"]
    uploaded = client.put(f"/jobs/{job_id}/video", content=video.read_bytes(), headers={"Content-Type": "video/mp4"})
    assert uploaded.status_code == 200, uploaded.text
    client.post(f"/jobs/{job_id}/run").raise_for_status()
    # Act as the tracker: publish what it would publish.
    nc, js = await connect(infra.config, "fake-tracker")
    video_info = uploaded.json()["video"]
    spec = export_spec(job_id, video_info)
    await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
    await publish_segments(js, job_id, spec, copies=2)
    await publish_done(js, job_id, spec)
    await nc.close()

    final = wait_status(client, job_id, {"done", "failed"}, timeout=120)
    assert final["status"] == "done", final
    assert final["clips_ready"] == 2 and final["progress"] == 1.0
    results = client.get(f"/jobs/{job_id}/results").json()
    assert results["shift_count"] == 2 and results["toi_s"] == pytest.approx(5.0)
    assert results["shifts"][0]["clip"]["start_s"] == pytest.approx(1.0)  # pre-roll applied once
    assert results["shifts"][1]["clip"]["end_s"] == pytest.approx(11.0)
    for shift in results["shifts"]:
        clip = httpx.get(shift["clip"]["url"])  # the signed storage URL works without an API key
        assert clip.status_code == 200
        path = tmp_path / f"{shift['index']}.mp4"
        path.write_bytes(clip.content)
        with av.open(str(path)) as container:
            duration = float(container.duration) / 1e6
        expected = shift["clip"]["end_s"] - shift["clip"]["start_s"]
        assert abs(duration - expected) < 0.2
    reel = client.get(f"/jobs/{job_id}/artifacts/reel.mp4")
    assert reel.status_code == 200 and reel.headers["content-type"] == "video/mp4"
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    samples = {
        (sample.name, sample.labels.get("outcome")): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.labels.get("service") == "exporter"
    }
    assert samples[("shiftclipper_worker_jobs_total", "clip")] == 2  # each clip cut once despite duplicates
    keys = await _keys(infra, job_id)
    assert sorted(k for k in keys if "/clips/" in k) == [f"jobs/{job_id}/clips/000.mp4", f"jobs/{job_id}/clips/001.mp4"]


async def _keys(infra, job_id):
    from shiftclipper_common.storage import ObjectStore

    store = await ObjectStore(infra.config).start()
    try:
        return await store.list_keys(f"jobs/{job_id}/")
    finally:
        await store.close()
