"""A catalogue of hostile inputs against a live gateway (real nats-server + SeaweedFS, SPEC §5).

Every case must get a 4xx with the error shape `{"error": {"code", "message"[, "field"]}}` and a clear
message, never a 5xx; and a healthy control job created first must be intact after each case (status,
video and setup still there). The gateway runs with a 1 MB upload limit and a 2 s upload idle timeout.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Infra
from tests.support.services import gateway
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}
SETUP = {"jersey_number": "19", "jersey_color": "red"}
MAX_UPLOAD = 1_000_000
IDLE_TIMEOUT_S = 2
MP4 = {"Content-Type": "video/mp4"}


@dataclass
class Env:
    client: httpx.Client
    video: Path
    control: dict[str, Any]


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("hostile")
    video = make_video(root / "ok.mp4", seconds=2.0)
    extra = {
        "SHIFTCLIPPER_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "SHIFTCLIPPER_UPLOAD_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S),
        "SHIFTCLIPPER_RATE_JOBS_PER_MIN": "0",  # ~80 jobs in seconds here; the limits have their own test
        "SHIFTCLIPPER_RATE_UPLOADS_PER_MIN": "0",
    }
    with gateway(infra.config, root / "logs", **extra) as url, httpx.Client(base_url=url, headers=ALICE) as client:
        client.timeout = httpx.Timeout(30)
        job_id = _new_job(client, "control")
        assert client.put(f"/jobs/{job_id}/video", content=video.read_bytes(), headers=MP4).status_code == 200
        assert client.put(f"/jobs/{job_id}/setup", json=SETUP).status_code == 200
        control = client.get(f"/jobs/{job_id}").json()
        assert control["status"] == "uploaded"
        yield Env(client, video, control)


def _new_job(client: httpx.Client, name: str = "hostile") -> str:
    resp = client.post("/jobs", json={"name": name})
    assert resp.status_code == 201, resp.text
    job_id: str = resp.json()["job_id"]
    return job_id


def _assert_error(resp: httpx.Response, status: int, code: str | None, field: str | None) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and len(error["message"]) >= 8, error  # says what is wrong
    assert "Traceback" not in error["message"] and "internal" not in error["code"], error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error


def _assert_control_intact(env: Env) -> None:
    job_id = env.control["job_id"]
    now = env.client.get(f"/jobs/{job_id}")
    assert now.status_code == 200, now.text
    record = now.json()
    assert record["status"] == "uploaded" and record["video"] == env.control["video"], record
    assert env.client.get(f"/jobs/{job_id}/setup").json()["jersey_number"] == "19"


# --- the catalogue ------------------------------------------------------------------------------------

Send = Callable[[Env, str], httpx.Response]
"""(env, id of a fresh job) -> the hostile request's response."""


@dataclass
class Case:
    id: str
    send: Send
    status: int
    code: str | None = None
    field: str | None = None


def upload(body: bytes | Callable[[Env], bytes], headers: dict[str, str] | None = None, query: str = "") -> Send:
    def send(env: Env, job: str) -> httpx.Response:
        content = body(env) if callable(body) else body
        return env.client.put(f"/jobs/{job}/video{query}", content=content, headers=headers or MP4)

    return send


def chunked(size: int) -> Send:
    """A body with no Content-Length (chunked): the limit must hold while streaming."""

    def send(env: Env, job: str) -> httpx.Response:
        def gen() -> Iterator[bytes]:
            for _ in range(size // 65536 + 1):
                yield b"\0" * 65536

        return env.client.put(f"/jobs/{job}/video", content=gen(), headers=MP4)

    return send


def get(path: str) -> Send:
    return lambda env, job: env.client.get(path.format(job=job, control=env.control["job_id"]))


def raw_get(path: str) -> Send:
    """A request target sent exactly as written: http.client, unlike httpx, does not resolve `..`."""

    def send(env: Env, job: str) -> httpx.Response:
        base = urlsplit(str(env.client.base_url))
        conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=30)
        try:
            conn.request("GET", path.format(job=job, control=env.control["job_id"]), headers=ALICE)
            reply = conn.getresponse()
            return httpx.Response(reply.status, headers=reply.getheaders(), content=reply.read())
        finally:
            conn.close()

    return send


def put_setup(body: Any) -> Send:
    def send(env: Env, job: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return env.client.put(f"/jobs/{job}/setup", content=content, headers={"Content-Type": "application/json"})

    return send


def create(body: Any) -> Send:
    def send(env: Env, job: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return env.client.post("/jobs", content=content, headers={"Content-Type": "application/json"})

    return send


def multipart(content_type: str, body: bytes) -> Send:
    return lambda env, job: env.client.post(f"/jobs/{job}/upload", content=body, headers={"Content-Type": content_type})


def nested(depth: int) -> bytes:
    return b'{"name": "x", "setup": {"tuning": ' + b"[" * depth + b"]" * depth + b"}}"


BOUNDARY = "XyZ"
NO_FILE = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{BOUNDARY}--\r\n'.encode()
CUT_FILE = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
).encode() + b"\0" * 100

CASES = [
    # uploads: content
    Case("upload-not-a-video", upload(b"hello, this is a text file, not a video\n" * 50), 422, "video_unreadable"),
    Case("upload-truncated-mp4", upload(lambda env: env.video.read_bytes()[: env.video.stat().st_size // 2]), 422),
    Case("upload-zero-bytes", upload(b""), 400, "empty_upload"),
    Case("upload-random-bytes", upload(bytes(range(256)) * 400), 422, "video_unreadable"),
    Case("upload-over-limit-declared", upload(b"\0" * (MAX_UPLOAD + 1)), 413, "too_large"),
    Case("upload-over-limit-chunked", chunked(MAX_UPLOAD + 10), 413, "too_large"),
    Case("upload-content-type-text", upload(b"x" * 100, {"Content-Type": "text/plain"}), 415),
    Case("upload-content-type-json", upload(b"{}", {"Content-Type": "application/json"}), 415),
    Case("upload-content-type-html", upload(b"<html>", {"Content-Type": "text/html; charset=utf-8"}), 415),
    # uploads: file names
    Case("filename-dotdot", upload(b"x", query="?filename=../../etc/passwd"), 400, "invalid_filename", "$.filename"),
    Case("filename-encoded-dotdot", upload(b"x", query="?filename=%2e%2e%2f%2e%2e%2fx.mp4"), 400, "invalid_filename"),
    Case("filename-backslash", upload(b"x", query="?filename=..%5C..%5Cwin.ini"), 400, "invalid_filename"),
    Case("filename-nul", upload(b"x", query="?filename=a%00.mp4"), 400, "invalid_filename"),
    Case("filename-newline", upload(b"x", query="?filename=a%0d%0aX-Injected:%201.mp4"), 400, "invalid_filename"),
    Case("filename-too-long", upload(b"x", query="?filename=" + "a" * 300 + ".mp4"), 400, "invalid_filename"),
    Case("filename-unicode-not-video", upload(b"not a video" * 20, query="?filename=%F0%9F%8F%92.mp4"), 422),
    # multipart
    Case("multipart-no-boundary", multipart("multipart/form-data", b"x"), 415),
    Case("multipart-no-file", multipart(f"multipart/form-data; boundary={BOUNDARY}", NO_FILE), 400, "no_file"),
    Case("multipart-cut-short", multipart(f"multipart/form-data; boundary={BOUNDARY}", CUT_FILE), 400),
    Case("multipart-garbage", multipart(f"multipart/form-data; boundary={BOUNDARY}", b"\xff" * 500), 400),
    # ids
    Case("id-dotdot", raw_get("/jobs/.."), 404),
    Case("id-encoded-dotdot", raw_get("/jobs/%2e%2e"), 404),
    Case("id-encoded-slash", raw_get("/jobs/..%2f..%2fetc%2fpasswd"), 404),
    Case("id-nul", raw_get("/jobs/%00"), 404),
    Case("id-unicode", raw_get("/jobs/%C3%BC%C3%BC%C3%BC%C3%BC%C3%BC%C3%BC%C3%BC%C3%BC"), 404, "not_found"),
    Case("id-uppercase", get("/jobs/ABCDEF0123456789"), 404, "not_found"),
    Case("id-very-long", get("/jobs/" + "a" * 5000), 404),
    Case("id-traversal-setup", raw_get("/jobs/%2e%2e/setup"), 404),
    # artefact names
    Case("artifact-dotdot", raw_get("/jobs/{control}/artifacts/../../../etc/passwd"), 404),
    Case("artifact-encoded-dotdot", raw_get("/jobs/{control}/artifacts/%2e%2e/%2e%2e/x/results.json"), 404),
    Case("artifact-clips-escape", raw_get("/jobs/{control}/artifacts/clips/..%2f..%2finput/video.mp4"), 404),
    Case("artifact-input-video", get("/jobs/{control}/artifacts/input/video.mp4"), 404),
    Case("artifact-nul", raw_get("/jobs/{control}/artifacts/results.json%00.png"), 404),
    Case("artifact-backslash", raw_get("/jobs/{control}/artifacts/..%5C..%5Cresults.json"), 404),
    # setup
    Case("setup-unknown-field", put_setup({**SETUP, "colour": "red"}), 400, "invalid_setup", "$.colour"),
    Case("setup-number-3-digits", put_setup({**SETUP, "jersey_number": "123"}), 400, None, "$.jersey_number"),
    Case("setup-number-negative", put_setup({**SETUP, "jersey_number": -1}), 400, None, "$.jersey_number"),
    Case("setup-bad-colour", put_setup({**SETUP, "jersey_color": "not-a-colour"}), 400, None, "$.jersey_color"),
    Case("setup-bad-enum", put_setup({**SETUP, "camera_mode": "drone"}), 400, None, "$.camera_mode"),
    Case("setup-roll-out-of-range", put_setup({**SETUP, "pre_roll_s": 1e9}), 400, None, "$.pre_roll_s"),
    Case("setup-click-out-of-frame", put_setup({**SETUP, "seed_clicks": [{"t": 1, "x": 2, "y": 0.5}]}), 400),
    Case("setup-polygon-2-points", put_setup({**SETUP, "rink_polygon": [[0, 0], [1, 1]]}), 400),
    Case("setup-tuning-unknown", put_setup({**SETUP, "tuning": {"warp_speed": 9}}), 400, "invalid_setup"),
    Case("setup-tuning-out-of-range", put_setup({**SETUP, "tuning": {"detect_fps": 0}}), 400, "invalid_setup"),
    Case("setup-not-an-object", put_setup([1, 2, 3]), 400),
    Case("setup-not-json", put_setup(b"{jersey_number: 19"), 400),
    Case("setup-nan", put_setup(b'{"jersey_number": "19", "jersey_color": "red", "pre_roll_s": NaN}'), 400),
    Case("setup-missing-required", put_setup({"jersey_color": "red"}), 400, "invalid_setup"),
    # job creation
    Case("create-unknown-field", create({"nme": "x"}), 400, None, "$.nme"),
    Case("create-name-too-long", create({"name": "x" * 201}), 400, None, "$.name"),
    Case("create-name-empty", create({"name": ""}), 400, None, "$.name"),
    Case("create-name-not-string", create({"name": 5}), 400, None, "$.name"),
    Case("create-bad-setup", create({"name": "x", "setup": {"jersey_number": "abc"}}), 400, None),
    Case("create-huge-json", create({"name": "x", "pad": "y" * 2_000_000}), 413),
    Case("create-deeply-nested", create(nested(100_000)), 400),
    Case("create-not-json", create(b"\x00\x01\x02"), 400),
    # queries
    Case("list-limit-zero", get("/jobs?limit=0"), 400),
    Case("list-limit-huge", get("/jobs?limit=100000000000000000000"), 400),
    Case("list-bad-status", get("/jobs?status=exploded"), 400),
    Case("list-bad-since", get("/jobs?since=yesterday"), 400),
    Case("cleanup-negative-days", lambda env, job: env.client.post("/jobs/cleanup?days=-1"), 400),
    # lifecycle
    Case("run-without-video", lambda env, job: env.client.post(f"/jobs/{job}/run"), 409, "no_video"),
    Case("retry-not-finished", lambda env, job: env.client.post(f"/jobs/{job}/retry"), 409, "conflict"),
    Case("complete-without-upload", lambda env, job: env.client.post(f"/jobs/{job}/video/complete"), 409),
    Case("no-api-key", lambda env, job: httpx.get(f"{env.client.base_url}/jobs/{job}"), 401, "unauthorized"),
    Case("other-owner", lambda env, job: env.client.get(f"/jobs/{job}", headers={"X-API-Key": "bob-key-456"}), 404),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(env: Env, case: Case) -> None:
    job = _new_job(env.client)
    _assert_error(case.send(env, job), case.status, case.code, case.field)
    _assert_control_intact(env)
    # The fresh job is still usable: no hostile input left it stuck in `uploading`.
    assert env.client.get(f"/jobs/{job}").json()["status"] == "created"


def test_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 30


def test_second_run_of_a_running_job(env: Env) -> None:
    """No tracker runs here, so a queued job stays queued: run and retry are conflicts, so is an upload."""
    job = _new_job(env.client)
    assert env.client.put(f"/jobs/{job}/video", content=env.video.read_bytes(), headers=MP4).status_code == 200
    assert env.client.put(f"/jobs/{job}/setup", json=SETUP).status_code == 200
    assert env.client.post(f"/jobs/{job}/run").status_code == 202
    _assert_error(env.client.post(f"/jobs/{job}/run"), 409, "conflict", None)
    _assert_error(env.client.post(f"/jobs/{job}/retry"), 409, "conflict", None)
    _assert_error(env.client.put(f"/jobs/{job}/video", content=b"x", headers=MP4), 409, "conflict", None)
    _assert_error(env.client.put(f"/jobs/{job}/setup", json=SETUP), 409, "conflict", None)
    assert env.client.post(f"/jobs/{job}/cancel").status_code == 202
    assert env.client.get(f"/jobs/{job}").json()["status"] == "cancelled"
    _assert_control_intact(env)


def test_slow_loris_upload_times_out_and_the_job_stays_usable(env: Env) -> None:
    """The client promises 1 MB, sends 100 bytes and stalls: the gateway answers 408 after the idle
    timeout and drops the connection; the job is back to `created` and a real upload then works."""
    job = _new_job(env.client)
    base = urlsplit(str(env.client.base_url))
    started = time.monotonic()
    with socket.create_connection((base.hostname or "127.0.0.1", base.port or 80), timeout=30) as sock:
        head = (
            f"PUT /jobs/{job}/video HTTP/1.1\r\nHost: x\r\nX-API-Key: {ALICE['X-API-Key']}\r\n"
            f"Content-Type: video/mp4\r\nContent-Length: {MAX_UPLOAD - 1}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"\0" * 100)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and reply.rstrip().endswith(b"}"):
                break
    waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert IDLE_TIMEOUT_S * 0.9 <= waited < IDLE_TIMEOUT_S + 15, waited
    error = json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "upload_timeout" and "stalled" in error["message"]
    status = env.client.get(f"/jobs/{job}").json()
    assert status["status"] == "created" and status["error"]["code"] == "upload_timeout", status
    assert env.client.put(f"/jobs/{job}/video", content=env.video.read_bytes(), headers=MP4).status_code == 200
    assert env.client.get(f"/jobs/{job}").json()["status"] == "uploaded"
    _assert_control_intact(env)


def test_traversal_filename_never_escapes_the_job(env: Env, infra: Infra) -> None:
    """A plain odd-but-harmless name is kept (base name only); the object key is always the job's own."""
    job = _new_job(env.client)
    resp = env.client.put(
        f"/jobs/{job}/video", params={"filename": "Spiel 🏒 ü.MOV"}, content=env.video.read_bytes(), headers=MP4
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["video"]["filename"] == "Spiel 🏒 ü.MOV"
    _assert_control_intact(env)


def test_token_bucket_refills_at_its_rate() -> None:
    from shiftclipper_api.ratelimit import TokenBucket

    bucket = TokenBucket(per_s=2.0, burst=3, updated=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # empty: the next token in 1/rate
    assert bucket.take(100.5) == 0.0
    assert bucket.take(200.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # capped at the burst


def test_rate_limits_per_api_key(infra: Infra, tmp_path: Path) -> None:
    """Creations and uploads per API key: over the burst a 429 with Retry-After and the error shape;
    another key is not affected; after Retry-After the key may go on."""
    extra = {
        "SHIFTCLIPPER_RATE_JOBS_PER_MIN": "30",  # one token every 2 s
        "SHIFTCLIPPER_RATE_JOBS_BURST": "3",
        "SHIFTCLIPPER_RATE_UPLOADS_PER_MIN": "6",
        "SHIFTCLIPPER_RATE_UPLOADS_BURST": "1",
    }
    with gateway(infra.config, tmp_path / "logs", **extra) as url, httpx.Client(base_url=url, headers=ALICE) as client:
        made = [client.post("/jobs", json={"name": f"r{i}"}) for i in range(3)]
        assert [r.status_code for r in made] == [201, 201, 201]
        limited = client.post("/jobs", json={"name": "r3"})
        _assert_error(limited, 429, "rate_limited", None)
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        other = client.post("/jobs", json={"name": "bob"}, headers={"X-API-Key": "bob-key-456"})
        assert other.status_code == 201  # per key
        time.sleep(retry_after + 0.1)
        assert client.post("/jobs", json={"name": "r4"}).status_code == 201

        job = made[0].json()["job_id"]
        assert client.put(f"/jobs/{job}/video", content=b"not a video", headers=MP4).status_code == 422
        upload_limited = client.put(f"/jobs/{job}/video", content=b"not a video", headers=MP4)
        _assert_error(upload_limited, 429, "rate_limited", None)
        assert 1 <= int(upload_limited.headers["Retry-After"]) <= 10
        _assert_error(client.post(f"/jobs/{job}/upload-url"), 429, "rate_limited", None)
        assert client.get(f"/jobs/{job}").json()["status"] == "created"  # a refused upload changed nothing
