"""`GET /jobs/{id}/clips.zip` against a real gateway, exporter, nats-server and S3 server: a job made
done by the fake tracker, its clips cut by the real exporter, the archive checked member by member."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from tests.support.fake_tracker import export_spec, publish_done, publish_segments
from tests.support.services import gateway_with_exporter, wait_status
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}
BOB = {"X-API-Key": "bob-key-456"}
ADMIN = {"X-API-Key": "admin-key-789"}


@pytest.fixture(scope="module")
def stack(infra, tmp_path_factory):
    with gateway_with_exporter(infra.config, tmp_path_factory.mktemp("dl-logs")) as url:
        yield url


async def _done_job(infra, client: httpx.Client, video) -> str:
    job = client.post("/jobs", json={"name": "Hawks vs Öster", "setup": {"jersey_number": "19", "jersey_color": "red"}})
    job_id = job.json()["job_id"]
    uploaded = client.put(f"/jobs/{job_id}/video", content=video.read_bytes(), headers={"Content-Type": "video/mp4"})
    assert uploaded.status_code == 200, uploaded.text
    client.post(f"/jobs/{job_id}/run").raise_for_status()
    nc, js = await connect(infra.config, "fake-tracker")
    try:
        spec = export_spec(job_id, uploaded.json()["video"])
        await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
        await publish_segments(js, job_id, spec)
        await publish_done(js, job_id, spec)
    finally:
        await nc.close()
    final = wait_status(client, job_id, {"done", "failed"}, timeout=120)
    assert final["status"] == "done", final
    return job_id


async def _object(infra, key: str) -> bytes:
    store = await ObjectStore(infra.config).start()
    try:
        return await store.get_bytes(key)
    finally:
        await store.close()


async def test_clips_zip_holds_every_clip_byte_identical(infra, stack, tmp_path):
    client = httpx.Client(base_url=stack, headers=ALICE, timeout=60)
    job_id = await _done_job(infra, client, make_video(tmp_path / "game.mp4", seconds=12.0, fps=25))
    results = client.get(f"/jobs/{job_id}/results").json()
    assert len(results["shifts"]) == 2

    resp = client.get(f"/jobs/{job_id}/clips.zip")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    assert int(resp.headers["content-length"]) == len(resp.content)  # sized exactly before streaming
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Hawks vs Oster-clips.zip"')
    assert "filename*=UTF-8''Hawks%20vs%20%C3%96ster-clips.zip" in disposition
    with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["shift-01.mp4", "shift-02.mp4"]
        for shift in results["shifts"]:
            member = archive.read(f"shift-{shift['index'] + 1:02d}.mp4")
            assert member == await _object(infra, shift["clip"]["key"])
            assert len(member) > 1000

    # The api_key query parameter works too (the UI's plain download link).
    assert httpx.get(f"{stack}/jobs/{job_id}/clips.zip", params={"api_key": "alice-key-123"}).status_code == 200
    # Another key's job does not exist for it; the admin sees everything; no key is a 401.
    other = httpx.get(f"{stack}/jobs/{job_id}/clips.zip", headers=BOB)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{stack}/jobs/{job_id}/clips.zip", headers=ADMIN).status_code == 200
    assert httpx.get(f"{stack}/jobs/{job_id}/clips.zip").status_code == 401


def test_clips_zip_404_without_results_or_job(stack):
    client = httpx.Client(base_url=stack, headers=ALICE, timeout=30)
    job_id = client.post("/jobs", json={"name": "empty"}).json()["job_id"]
    early = client.get(f"/jobs/{job_id}/clips.zip")
    assert early.status_code == 404 and early.json()["error"]["message"] == "no results yet"
    assert client.get("/jobs/0123456789abcdef/clips.zip").status_code == 404
    assert client.get("/jobs/..%2f..%2fetc/clips.zip").status_code == 404
