"""Shift review against real NATS + S3: PATCH a done job's shifts; the projector records the review,
the exporter re-cuts only what changed, rebuilds the reel and rewrites results.json."""

from __future__ import annotations

import time

import av
import httpx
import pytest

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from tests.support.fake_tracker import export_spec, publish_done, publish_segments
from tests.support.services import gateway_with_exporter, wait_status
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}
BOB = {"X-API-Key": "bob-key-456"}


@pytest.fixture(scope="module")
def stack(infra, tmp_path_factory):
    with gateway_with_exporter(infra.config, tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture(scope="module")
async def done_job(infra, stack, tmp_path_factory):
    """A job with two shifts, [2, 4] and [7, 10] s of a 12 s video (clips [1, 5] and [6, 11]), done."""
    client = httpx.Client(base_url=stack, headers=ALICE, timeout=60)
    video = make_video(tmp_path_factory.mktemp("video") / "game.mp4", seconds=12.0, fps=25)
    job_id = client.post("/jobs", json={"name": "rev", "setup": {"jersey_number": "19", "jersey_color": "red"}}).json()[
        "job_id"
    ]
    uploaded = client.put(f"/jobs/{job_id}/video", content=video.read_bytes(), headers={"Content-Type": "video/mp4"})
    client.post(f"/jobs/{job_id}/run").raise_for_status()
    nc, js = await connect(infra.config, "fake-tracker")
    spec = export_spec(job_id, uploaded.json()["video"])
    await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
    await publish_segments(js, job_id, spec)
    await publish_done(js, job_id, spec)
    await nc.close()
    assert wait_status(client, job_id, {"done", "failed"}, timeout=120)["status"] == "done"
    return client, job_id


def wait_reviewed(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}").json()
        if not status["review_pending"]:
            return status
        assert status["status"] == "done" and status["stage"] == "review"  # never leaves done
        time.sleep(0.2)
    raise TimeoutError(status)


async def heads(infra, job_id: str) -> dict[str, tuple[str, object]]:
    """ETag and LastModified of every clip object of the job."""
    store = await ObjectStore(infra.config).start()
    try:
        keys = [k for k in await store.list_keys(f"jobs/{job_id}/clips/")]
        return {k: ((h := await store.head(k))["ETag"], h["LastModified"]) for k in keys}
    finally:
        await store.close()


def duration_of(client: httpx.Client, job_id: str, name: str, tmp_path) -> float:
    response = client.get(f"/jobs/{job_id}/artifacts/{name}")
    assert response.status_code == 200, (name, response.text)
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        return float(container.duration) / 1e6


async def test_bad_edits_are_rejected_with_4xx(infra, stack, done_job):
    client, job_id = done_job
    url = f"/jobs/{job_id}/shifts/0"
    cases = [
        (f"/jobs/{'0' * 16}/shifts/0", ALICE, {"decision": "accepted"}, 404, None),
        (url, BOB, {"decision": "accepted"}, 404, None),  # another key's job
        (f"/jobs/{job_id}/shifts/7", ALICE, {"decision": "accepted"}, 404, None),
        (url, ALICE, {"start_s": 5.0}, 400, "$.start_s"),  # after the shift's end (4 s)
        (url, ALICE, {"start_s": 3.0, "end_s": 3.0}, 400, "$.end_s"),
        (url, ALICE, {"start_s": -1.0}, 400, "$.start_s"),
        (url, ALICE, {"end_s": 12.5}, 400, "$.end_s"),  # past the 12 s video
        (url, ALICE, {"decision": "maybe"}, 400, "$.decision"),
        (url, ALICE, {"start": 1.0}, 400, None),  # unknown field
    ]
    for path, headers, body, code, field in cases:
        response = client.patch(path, json=body, headers=headers)
        assert response.status_code == code, (path, body, response.text)
        error = response.json()["error"]
        assert field is None or error["field"] == field, (body, error)
    fresh = client.post("/jobs", json={"name": "not done"}).json()["job_id"]
    response = client.patch(f"/jobs/{fresh}/shifts/0", json={"decision": "accepted"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    status = client.get(f"/jobs/{job_id}").json()
    assert status["review_revision"] == 0 and not status["review_pending"]  # nothing was applied


async def test_reject_then_trim(infra, stack, done_job, tmp_path):
    client, job_id = done_job
    before = client.get(f"/jobs/{job_id}/results").json()
    assert before["toi_s"] == pytest.approx(5.0) and before["reel"]["key"] == names.reel_key(job_id)

    # Reject shift 0: no clip is cut, the reel and the TOI leave it out.
    response = client.patch(f"/jobs/{job_id}/shifts/0", json={"decision": "rejected"})
    assert response.status_code == 202, response.text
    assert response.json()["decision"] == "rejected" and response.json()["revision"] == 0
    status = wait_reviewed(client, job_id)
    assert status["status"] == "done" and status["stage"] == "done" and status["review_exported"] == 1
    results = client.get(f"/jobs/{job_id}/results").json()
    assert results["shift_count"] == 1 and results["toi_s"] == pytest.approx(3.0)
    assert [s["decision"] for s in results["shifts"]] == ["rejected", None]
    assert results["reel"]["key"] == names.reel_key(job_id, 1)
    assert duration_of(client, job_id, "reel.r1.mp4", tmp_path) == pytest.approx(5.0, abs=0.2)  # clip [6, 11]
    clips_before = await heads(infra, job_id)
    assert sorted(clips_before) == [names.clip_key(job_id, 0), names.clip_key(job_id, 1)]

    # Trim shift 1 to [8, 9.5]: only its clip is re-cut, under a new key ([7, 10.5] with the roll).
    response = client.patch(f"/jobs/{job_id}/shifts/1", json={"start_s": 8.0, "end_s": 9.5})
    assert response.status_code == 202, response.text
    shift = response.json()
    assert (shift["start_s"], shift["end_s"], shift["duration_s"], shift["revision"]) == (8.0, 9.5, 1.5, 2)
    assert shift["clip"]["key"] == names.clip_key(job_id, 1, 2) and shift["clip"]["start_s"] == 7.0
    assert shift["clip"]["end_s"] == 10.5
    status = wait_reviewed(client, job_id)
    assert status["clips_ready"] == 2 and status["review_exported"] == 2
    results = client.get(f"/jobs/{job_id}/results").json()
    assert results["toi_s"] == pytest.approx(1.5) and results["shift_count"] == 1
    assert results["shifts"][1]["clip"]["key"] == names.clip_key(job_id, 1, 2)
    assert duration_of(client, job_id, "clips/001.r2.mp4", tmp_path) == pytest.approx(3.5, abs=0.2)
    assert duration_of(client, job_id, "reel.r2.mp4", tmp_path) == pytest.approx(3.5, abs=0.2)
    clips_after = await heads(infra, job_id)
    assert {k: v for k, v in clips_after.items() if k in clips_before} == clips_before  # untouched
    assert sorted(clips_after) == sorted([*clips_before, names.clip_key(job_id, 1, 2)])

    # The same edit again changes nothing; `run` stays possible on the reviewed (done) job.
    again = client.patch(f"/jobs/{job_id}/shifts/1", json={"start_s": 8.0})
    assert again.status_code == 202 and again.json()["revision"] == 2
    assert client.get(f"/jobs/{job_id}").json()["review_revision"] == 2
