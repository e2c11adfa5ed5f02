"""The gateway against a real nats-server and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from shiftclipper_api.app import create_app
from shiftclipper_common.storage import ObjectStore
from tests.support.services import gateway
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}
BOB = {"Authorization": "Bearer bob-key-456"}
ADMIN = {"X-API-Key": "admin-key-789"}
SETUP = {"jersey_number": "19", "jersey_color": "red"}


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("v") / "game.mp4", seconds=2.0)


@pytest.fixture
async def client(infra):
    async with AsyncTestClient(create_app(infra.config), timeout=60) as c:
        yield c


async def _job(client, headers=ALICE, **body) -> dict:
    resp = await client.post("/jobs", json={"name": "game", **body}, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_auth_required_and_isolated(client):
    assert (await client.get("/jobs")).status_code == 401
    assert (await client.get("/jobs", headers={"X-API-Key": "nope"})).json()["error"]["code"] == "unauthorized"
    job = await _job(client)
    assert job["status"] == "created" and job["owner"] == "alice"
    assert (await client.get(f"/jobs/{job['job_id']}", headers=BOB)).status_code == 404
    assert (await client.get(f"/jobs/{job['job_id']}", headers=ADMIN)).status_code == 200
    listed = (await client.get("/jobs", headers=BOB)).json()["jobs"]
    assert job["job_id"] not in {j["job_id"] for j in listed}
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).json()["checks"] == {
        "nats": True,
        "object_storage": True,
        "status_cache": True,
    }


async def test_idempotency_key_gives_one_job(client):
    headers = {**ALICE, "Idempotency-Key": "abc-123"}
    first, second = await asyncio.gather(_job(client, headers), _job(client, headers))
    assert first["job_id"] == second["job_id"]
    other_owner = await _job(client, {**BOB, "Idempotency-Key": "abc-123"})
    assert other_owner["job_id"] != first["job_id"]


async def test_setup_validation_and_aliases(client):
    job_id = (await _job(client))["job_id"]
    bad = await client.put(f"/jobs/{job_id}/setup", json={"jersey_number": "123", "jersey_color": "red"}, headers=ALICE)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "$.jersey_number"
    unknown = await client.put(f"/jobs/{job_id}/setup", json={**SETUP, "colour": "x"}, headers=ALICE)
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "$.colour"
    empty_poly = await client.put(f"/jobs/{job_id}/setup", json={**SETUP, "rink_polygon": []}, headers=ALICE)
    assert empty_poly.status_code == 400 and empty_poly.json()["error"]["field"] == "$.rink_polygon"
    ok = await client.put(
        f"/jobs/{job_id}/setup",
        json={"player_number": 19, "jersey_color": "Red", "tracking_mode": "clips"},
        headers=ALICE,
    )
    assert ok.status_code == 200
    got = (await client.get(f"/jobs/{job_id}/setup", headers=ALICE)).json()
    assert got["jersey_number"] == "19" and got["jersey_color"] == "#ff0000" and got["mode"] == "clips"
    assert got["pre_roll_s"] == 2.0  # defaults filled
    nested = await client.post("/jobs", json={"name": "x", "setup": {"jersey_number": "7"}}, headers=ALICE)
    assert nested.status_code == 400 and nested.json()["error"]["field"] == "$.setup"


async def test_upload_run_and_lifecycle(client, video):
    job_id = (await _job(client))["job_id"]
    run = await client.post(f"/jobs/{job_id}/run", headers=ALICE)
    assert run.status_code == 409 and run.json()["error"]["code"] == "no_video"
    put = await client.put(
        f"/jobs/{job_id}/video?filename=game.mp4",
        content=video.read_bytes(),
        headers={**ALICE, "Content-Type": "video/mp4"},
    )
    assert put.status_code == 200, put.text
    status = put.json()
    assert status["status"] == "uploaded"
    assert status["video"]["width"] == 320 and abs(status["video"]["duration_s"] - 2.0) < 0.2
    assert (await client.post(f"/jobs/{job_id}/run", headers=ALICE)).json()["error"]["code"] == "no_setup"
    await client.put(f"/jobs/{job_id}/setup", json=SETUP, headers=ALICE)
    queued = await client.post(f"/jobs/{job_id}/run", headers=ALICE)
    assert queued.status_code == 202 and queued.json()["status"] == "queued" and queued.json()["attempt"] == 1
    assert (await client.post(f"/jobs/{job_id}/run", headers=ALICE)).status_code == 409
    assert (await client.get(f"/jobs/{job_id}/status", headers=ALICE)).json()["status"] == "queued"
    cancelled = await client.post(f"/jobs/{job_id}/cancel", headers=ALICE)
    assert cancelled.json()["status"] == "cancelled"
    retried = await client.post(f"/jobs/{job_id}/retry", headers=ALICE)
    assert retried.json()["status"] == "queued" and retried.json()["attempt"] == 2
    assert (await client.get(f"/jobs/{job_id}/results", headers=ALICE)).status_code == 404
    assert (await client.delete(f"/jobs/{job_id}", headers=ALICE)).status_code == 204
    assert (await client.get(f"/jobs/{job_id}", headers=ALICE)).status_code == 404


async def test_multipart_upload_and_bad_video(client, video):
    job_id = (await _job(client))["job_id"]
    resp = await client.post(
        f"/jobs/{job_id}/upload", files={"file": ("clip.mov", video.read_bytes(), "video/quicktime")}, headers=ALICE
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["video"]["filename"] == "clip.mov"
    job2 = (await _job(client))["job_id"]
    junk = await client.put(
        f"/jobs/{job2}/video", content=b"not a video at all" * 100, headers={**ALICE, "Content-Type": "video/mp4"}
    )
    assert junk.status_code == 422 and junk.json()["error"]["code"] == "video_unreadable"
    after = (await client.get(f"/jobs/{job2}", headers=ALICE)).json()
    assert after["status"] == "created" and after["error"]["code"] == "video_unreadable"
    wrong_type = await client.put(f"/jobs/{job2}/video", content=b"{}", headers={**ALICE, "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415


async def test_artifact_range_and_traversal(client, infra):
    job_id = (await _job(client))["job_id"]
    store = await ObjectStore(infra.config).start()
    await store.put_bytes(f"jobs/{job_id}/reel.mp4", bytes(range(256)) * 4, "video/mp4")
    await store.close()
    full = await client.get(f"/jobs/{job_id}/artifacts/reel.mp4", headers=ALICE)
    assert full.status_code == 200 and len(full.content) == 1024
    part = await client.get(f"/jobs/{job_id}/artifacts/reel.mp4", headers={**ALICE, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/1024"
    for name in ("../reel.mp4", "clips/../../x", "%2e%2e/reel.mp4", "input/video.mp4"):
        assert (await client.get(f"/jobs/{job_id}/artifacts/{name}", headers=ALICE)).status_code == 404
    redirect = await client.get(
        f"/jobs/{job_id}/artifacts/reel.mp4?redirect=true", headers=ALICE, follow_redirects=False
    )
    assert redirect.status_code == 307 and "X-Amz-Signature" in redirect.headers["location"]


def test_sse_streams_status_changes(infra, tmp_path):
    """Against a real gateway process: the in-process test client cannot time out a stream."""
    with gateway(infra.config, tmp_path) as url:
        http = httpx.Client(base_url=url, headers=ALICE, timeout=httpx.Timeout(20.0))
        job_id = http.post("/jobs", json={"name": "sse"}).json()["job_id"]
        seen: list[dict] = []
        with http.stream("GET", f"/jobs/{job_id}/events") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                if line.startswith("data:") and "{" in line:
                    seen.append(msgspec.json.decode(line[5:].strip()))
                    if len(seen) == 1:  # subscribed: now change the status from another connection
                        httpx.post(f"{url}/jobs/{job_id}/cancel", headers=ALICE, timeout=20).raise_for_status()
                if line.startswith("event: end"):
                    break
    assert [e["status"] for e in seen] == ["created", "cancelled"]


async def test_bad_ids_are_404_not_500(client):
    for job_id in ("%2e%2e", "..%2f..%2fetc", "ABC", "a" * 100, "x%00y", "ééé"):
        resp = await client.get(f"/jobs/{job_id}", headers=ALICE)
        assert resp.status_code == 404, (job_id, resp.status_code)
    assert (await client.post("/jobs", content=b"{not json", headers=ALICE)).status_code == 400
    resp = await client.post("/jobs", json={"name": "x", "bogus": 1}, headers=ALICE)
    assert resp.status_code == 400 and "error" in resp.json()
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_presigned_upload_stats_dead_letters_cleanup(client, video):
    job_id = (await _job(client))["job_id"]
    early = await client.post(f"/jobs/{job_id}/video/complete?filename=g.mp4", headers=ALICE)
    assert early.status_code == 409 and early.json()["error"]["code"] == "no_video"
    signed = (await client.post(f"/jobs/{job_id}/upload-url?filename=g.mp4", headers=ALICE)).json()
    assert signed["method"] == "PUT" and "X-Amz-Signature" in signed["url"]
    async with httpx.AsyncClient() as direct:  # straight to storage, no API key
        assert (await direct.put(signed["url"], content=video.read_bytes())).status_code == 200
    done = await client.post(f"/jobs/{job_id}/video/complete?filename=g.mp4", headers=ALICE)
    assert done.status_code == 200 and done.json()["status"] == "uploaded"

    stats = (await client.get("/stats", headers=ALICE)).json()
    assert stats["jobs_by_status"]["uploaded"] >= 1 and stats["queue_depth"] >= 0
    assert (await client.get("/dead-letters", headers=ALICE)).json()["jobs"] == []

    # cleanup removes finished jobs only: cancel one, leave the uploaded one alone
    old = (await _job(client))["job_id"]
    await client.post(f"/jobs/{old}/cancel", headers=ALICE)
    removed = (await client.post("/jobs/cleanup?days=0", headers=ALICE)).json()["removed"]
    assert old in removed and job_id not in removed
    assert (await client.get(f"/jobs/{old}", headers=ALICE)).status_code == 404
    assert (await client.get(f"/jobs/{job_id}", headers=ALICE)).status_code == 200


async def test_a_corrupt_status_entry_is_skipped_not_fatal(infra, client):
    """One foreign value in the status bucket (a hand-written probe, a record from a future version) must not
    stop the gateway's status watcher: every other job still answers and new ones are seen."""
    from shiftclipper_common.bus import connect
    from shiftclipper_contracts import names

    nc, js = await connect(infra.config, "test-corrupt")
    kv = await js.key_value(names.STATUS_BUCKET)
    await kv.put("zzcorrupt01", b"1")
    try:
        job = await _job(client)  # read-your-writes: answered only once the watcher saw the projector's write
        got = await client.get(f"/jobs/{job['job_id']}", headers=ALICE)
        assert got.status_code == 200 and got.json()["status"] == "created"
        assert (await client.get("/jobs/zzcorrupt01", headers=ADMIN)).status_code == 404
    finally:
        await kv.delete("zzcorrupt01")
        await nc.close()


@pytest.mark.slow
async def test_a_storage_outage_during_upload_is_a_503_and_keeps_the_video(make_infra, video):
    """S3 restarting between the upload and its probe (the chaos test's rare 4xx) must not fail the job as
    `video_unreadable`: the client is told to retry, and the stored video is still there when it does."""
    from shiftclipper_common.localinfra import S3Credentials, wait_s3_ready

    infra = make_infra()
    async with AsyncTestClient(create_app(infra.config), timeout=120) as client:
        job_id = (await _job(client))["job_id"]
        signed = (await client.post(f"/jobs/{job_id}/upload-url?filename=g.mp4", headers=ALICE)).json()
        async with httpx.AsyncClient() as direct:
            assert (await direct.put(signed["url"], content=video.read_bytes())).status_code == 200
        infra.s3.kill()
        try:
            early = await client.post(f"/jobs/{job_id}/video/complete?filename=g.mp4", headers=ALICE)
            assert early.status_code == 503 and "object storage" in early.json()["error"]["message"], early.text
            assert early.headers["Retry-After"]
            status = (await client.get(f"/jobs/{job_id}", headers=ALICE)).json()
            assert status["status"] != "failed" and status["error"] is None, status
        finally:
            infra.s3.start()
        creds = S3Credentials(infra.config.s3_access_key, infra.config.s3_secret_key)
        wait_s3_ready(infra.config.s3_endpoint, creds, infra.config.s3_bucket)
        done = await client.post(f"/jobs/{job_id}/video/complete?filename=g.mp4", headers=ALICE)
        assert done.status_code == 200 and done.json()["status"] == "uploaded", done.text


def test_a_refused_read_is_storage_trouble_not_a_bad_video():
    from shiftclipper_api.probe import StorageUnreachable, probe_video
    from shiftclipper_common.localinfra import free_port

    with pytest.raises(StorageUnreachable, match="Connection refused"):
        probe_video(f"http://127.0.0.1:{free_port()}/jobs/x/input.mp4", 1000, "x.mp4")


async def test_stats_say_whether_a_tracker_is_connected(make_infra, tmp_path, video, capsys):
    """A queued job with no tracker anywhere waits for ever: `/stats` tells so, and the CLI says it.
    The "tracker" here is a real pull subscriber on the work consumer, waiting the way the tracker worker does."""
    import nats.errors

    from shiftclipper_cli.client import Client, queue_note
    from shiftclipper_cli.main import main as cli_main
    from shiftclipper_common.bus import close, connect
    from shiftclipper_contracts import names

    infra = make_infra()
    with gateway(infra.config, tmp_path) as url:
        cli = Client(url, ALICE["X-API-Key"])

        async def stats() -> dict:
            return await asyncio.to_thread(cli.call, "GET", "/stats")

        first = await stats()
        assert first["tracker_connected"] is False and first["workers"]["tracker_idle_pulls"] == 0
        assert "no tracker is running" in (await asyncio.to_thread(queue_note, cli) or "")
        assert "no tracker is running" in (await asyncio.to_thread(queue_note, cli, 0.6, 0.2) or "")  # nobody came
        # a tracker that connects within the grace (one `clip` has just started loading its models) is no news
        in_grace = asyncio.ensure_future(asyncio.to_thread(queue_note, cli, 30.0, 0.2))
        await asyncio.sleep(1.0)
        assert not in_grace.done()

        nc, js = await connect(infra.config, "test-tracker")
        sub = await js.pull_subscribe_bind(names.TRACKER_CONSUMER, stream=names.WORK_STREAM)

        async def wait_for_work() -> None:
            while True:
                try:
                    await sub.fetch(1, timeout=2.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue

        waiting = asyncio.create_task(wait_for_work())
        try:
            assert await asyncio.wait_for(in_grace, 10.0) is None
            await asyncio.sleep(0.3)
            looks = []
            for _ in range(12):  # over 3 s: the subscriber renews its pull request in between
                looks.append((await stats())["tracker_connected"])
                await asyncio.sleep(0.25)
            assert all(looks), looks
            assert await asyncio.to_thread(queue_note, cli) is None
        finally:
            waiting.cancel()
            await sub.unsubscribe()
            await close(nc)
        await asyncio.sleep(2.5)  # its last pull request expires
        assert (await stats())["tracker_connected"] is False
        # `shiftclipper status` of a queued job adds the note
        job_id = (await asyncio.to_thread(cli.call, "POST", "/jobs", json={"name": "g", "setup": SETUP}))["job_id"]
        await asyncio.to_thread(cli.upload, job_id, video, lambda n: None)
        await asyncio.to_thread(cli.call, "POST", f"/jobs/{job_id}/run")
        args = ["status", job_id, "--api-url", url, "--api-key", ALICE["X-API-Key"]]
        assert await asyncio.to_thread(cli_main, args) == 0
        assert "note: no tracker is running" in capsys.readouterr().err
