"""The exporter and projector against real NATS + S3: segment events in, clips, reel and results out;
a failed clip named in the job's error; the preview proxy made after an upload. No detector needed:
the test publishes the tracker's events itself."""

from __future__ import annotations

import time

import av
import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_common.localinfra import free_port
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from tests.support.fake_tracker import export_spec, publish_done, publish_segments
from tests.support.services import gateway_with_exporter, wait_status
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}


@pytest.fixture(scope="module")
def stack(infra, tmp_path_factory):
    metrics_port = free_port()
    logs = tmp_path_factory.mktemp("logs")
    with gateway_with_exporter(infra.config, logs, SHIFTCLIPPER_METRICS_PORT=str(metrics_port)) as url:
        yield url, metrics_port


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
    samples = _exporter_metrics(metrics_port)
    assert samples[("shiftclipper_worker_jobs_total", "clip")] == 2  # each clip cut once despite duplicates
    keys = await _keys(infra, job_id)
    assert sorted(k for k in keys if "/clips/" in k) == [f"jobs/{job_id}/clips/000.mp4", f"jobs/{job_id}/clips/001.mp4"]


def _exporter_metrics(port: int) -> dict[tuple[str, str | None], float]:
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        (sample.name, sample.labels.get("outcome")): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.labels.get("service") == "exporter"
    }


async def _keys(infra, job_id):
    store = await ObjectStore(infra.config).start()
    try:
        return await store.list_keys(f"jobs/{job_id}/")
    finally:
        await store.close()


def _uploaded(client: httpx.Client, path, seconds: float = 6.0, size=(320, 240)) -> tuple[str, dict, bytes]:
    video = make_video(path, seconds=seconds, fps=25, size=size).read_bytes()
    job = client.post("/jobs", json={"name": "x", "setup": {"jersey_number": "19", "jersey_color": "red"}}).json()
    uploaded = client.put(f"/jobs/{job['job_id']}/video", content=video, headers={"Content-Type": "video/mp4"})
    assert uploaded.status_code == 200, uploaded.text
    return job["job_id"], uploaded.json()["video"], video


async def _run_and_publish(infra, client, job_id: str, video_info: dict, segment: ev.Segment) -> dict:
    """Run the job, act as the tracker with one segment, check the failure it ends in, delete the job."""
    client.post(f"/jobs/{job_id}/run").raise_for_status()
    nc, js = await connect(infra.config, "fake-tracker")
    spec = export_spec(job_id, video_info)
    await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
    await publish_event(js, ev.SegmentFound(job_id=job_id, attempt=1, segment=segment, export=spec), "x")
    final = wait_status(client, job_id, {"done", "failed"}, timeout=60)
    failed = await js.get_last_msg(names.EVENTS_STREAM, names.event_subject(job_id, "failed"))
    await nc.close()
    assert final["status"] == "failed", final
    event = ev.decode_event(failed.data)
    assert isinstance(event, ev.JobFailed)
    assert event.clip_index == segment.index and event.stage == "export"
    assert event.error == ev.ErrorInfo(**final["error"])
    assert client.delete(f"/jobs/{job_id}").status_code == 204  # no dead letter left for other tests
    return final


async def test_a_window_that_cannot_be_cut_fails_the_job_naming_the_clip(infra, stack, tmp_path):
    client = httpx.Client(base_url=stack[0], headers=ALICE, timeout=60)
    job_id, info, _ = _uploaded(client, tmp_path / "short.mp4")
    past_the_end = ev.Segment(index=3, start_s=20.0, end_s=25.0, confidence=0.7)
    final = await _run_and_publish(infra, client, job_id, info, past_the_end)
    assert final["error"]["code"] == "empty_range"
    assert final["error"]["message"].startswith("export failed: clip 3 (19.00-19.00 s): empty_range")


async def test_a_corrupt_input_fails_the_job_naming_the_clip(infra, stack, tmp_path):
    client = httpx.Client(base_url=stack[0], headers=ALICE, timeout=60)
    job_id, info, data = _uploaded(client, tmp_path / "soon_corrupt.mp4")
    store = await ObjectStore(infra.config).start()
    try:  # the object goes bad after the upload was probed (moov is at the end: half a file is unreadable)
        await store.put_bytes(names.input_key(job_id, ".mp4"), data[: len(data) // 2], "video/mp4")
    finally:
        await store.close()
    final = await _run_and_publish(infra, client, job_id, info, ev.Segment(index=0, start_s=1, end_s=3, confidence=1))
    assert final["error"]["code"] == "video_unreadable" and "clip 0 (0.00-4.00 s)" in final["error"]["message"]


async def test_an_upload_gets_a_preview_proxy_in_the_background(infra, stack, tmp_path):
    client = httpx.Client(base_url=stack[0], headers=ALICE, timeout=60)
    proxies_before = _exporter_metrics(stack[1]).get(("shiftclipper_worker_jobs_total", "proxy"), 0)
    job_id, _, _ = _uploaded(client, tmp_path / "hd.mp4", seconds=3.0, size=(1280, 720))
    status = client.get(f"/jobs/{job_id}").json()
    for _ in range(300):
        if status["proxy_ready"]:
            break
        time.sleep(0.2)
        status = client.get(f"/jobs/{job_id}").json()
    assert status["proxy_ready"] and status["status"] == "uploaded", status
    proxy = client.get(f"/jobs/{job_id}/artifacts/proxy.mp4")
    assert proxy.status_code == 200 and proxy.headers["content-type"] == "video/mp4"
    path = tmp_path / "proxy.mp4"
    path.write_bytes(proxy.content)
    assert_faststart(path)
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        assert (v.codec_context.name, v.codec_context.pix_fmt, v.width, v.height) == ("h264", "yuv420p", 640, 360)
        assert float(container.duration) / 1e6 == pytest.approx(3.0, abs=0.1)
    # Made by the exporter (the upload request only probed the video): one more proxy in its counter.
    assert _exporter_metrics(stack[1])[("shiftclipper_worker_jobs_total", "proxy")] >= proxies_before + 1


def assert_faststart(path) -> None:
    """The top-level `moov` box comes before `mdat`, so a player starts before the whole file arrives."""
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        boxes.append(kind)
        pos += size if size else len(data)
    assert "moov" in boxes and boxes.index("moov") < boxes.index("mdat"), boxes


async def test_reel_title_cards_when_asked(infra, stack, tmp_path):
    client = httpx.Client(base_url=stack[0], headers=ALICE, timeout=60)
    job_id, info, _ = _uploaded(client, tmp_path / "titled.mp4", seconds=12.0)
    client.post(f"/jobs/{job_id}/run").raise_for_status()
    nc, js = await connect(infra.config, "fake-tracker")
    spec = msgspec.structs.replace(export_spec(job_id, info), reel_titles=True)
    await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
    await publish_segments(js, job_id, spec)
    await publish_done(js, job_id, spec)
    await nc.close()
    assert wait_status(client, job_id, {"done", "failed"}, timeout=120)["status"] == "done"
    reel = client.get(f"/jobs/{job_id}/artifacts/reel.mp4")
    path = tmp_path / "reel.mp4"
    path.write_bytes(reel.content)
    with av.open(str(path)) as container:  # clips [1, 5] and [6, 11], each after a 1.5 s card
        assert float(container.duration) / 1e6 == pytest.approx(4.0 + 5.0 + 2 * 1.5, abs=0.2)


async def test_a_retry_that_moves_a_shift_recuts_its_clip_under_the_same_key(infra, stack, tmp_path):
    """Clip keys are per (job, segment index): a redelivered event finds its clip and cuts nothing, but a retry
    whose new run put shift 0 elsewhere must not serve the old clip."""
    stack, _ = stack
    client = httpx.Client(base_url=stack, headers=ALICE, timeout=60)
    job_id, info, _ = _uploaded(client, tmp_path / "game.mp4", seconds=8.0)
    spec = export_spec(job_id, info)  # pre/post roll 1 s
    key = names.clip_key(job_id, 0)
    store = await ObjectStore(infra.config).start()
    nc, js = await connect(infra.config, "fake-tracker")
    try:
        etags = []
        for attempt, (start, end) in enumerate([(2.0, 3.0), (3.0, 5.5)], start=1):
            if attempt == 1:
                client.post(f"/jobs/{job_id}/run").raise_for_status()
            else:
                client.post(f"/jobs/{job_id}/retry").raise_for_status()
            wait_status(client, job_id, {"queued"}, timeout=30)
            segment = ev.Segment(index=0, start_s=start, end_s=end, confidence=0.9)
            await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=attempt, worker="test"), str(attempt))
            for _ in range(2):  # the second copy is a redelivery: it must not cut again
                found = ev.SegmentFound(job_id=job_id, attempt=attempt, segment=segment, export=spec)
                await publish_event(js, found, f"{attempt}.0.{_}")
            target = ev.Target(number="19", color="#ff0000", camera_mode="broadcast")
            done = ev.TrackingDone(
                job_id=job_id, attempt=attempt, segments=[segment], stats=ev.TrackingStats(), export=spec,
                target=target, mode="shifts",
            )  # fmt: skip
            await publish_event(js, done, "")
            final = wait_status(client, job_id, {"done", "failed"}, timeout=90)
            assert final["status"] == "done" and final["attempt"] == attempt, final
            head = await store.head(key)
            assert head is not None and head["Metadata"]["window"] == f"{start - 1:.3f}-{end + 1:.3f}"
            etags.append(head["ETag"])
            clip = tmp_path / f"clip{attempt}.mp4"
            clip.write_bytes(client.get(f"/jobs/{job_id}/artifacts/clips/000.mp4").content)
            with av.open(str(clip)) as container:
                assert abs(float(container.duration) / 1e6 - (end - start + 2)) < 0.2
        assert etags[0] != etags[1]
    finally:
        await nc.close()
        await store.close()
