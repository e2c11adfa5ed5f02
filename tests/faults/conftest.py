"""One fault-injection stack shared by tests/faults: private nats-server + SeaweedFS, the real gateway,
exporter and tracker as subprocesses. Tests kill, stop and restart its parts; `Stack` keeps track of
what is running now so a later test finds a working stack again."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError

from shiftclipper_common.localinfra import ManagedProcess, free_port
from shiftclipper_contracts import names
from shiftclipper_contracts.status import STATE_RANK, JobState
from tests.conftest import PRACTICE_CLIP, REPO, TFLITE_MODEL, Infra, start_infra
from tests.support.services import service_env, start_service, wait_ready
from tests.support.videos import make_video

ALICE = {"X-API-Key": "alice-key-123"}
ACK_WAIT_S = 10
MAX_ATTEMPTS = 3
HAVE_MODEL = PRACTICE_CLIP.exists() and TFLITE_MODEL.exists()
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="practice clip or tflite model absent in ../shared")


@dataclass
class Stack:
    infra: Infra
    logs: Path
    env: dict[str, str]
    url: str = ""
    gateway: ManagedProcess | None = None
    exporter: ManagedProcess | None = None
    trackers: list[ManagedProcess] = field(default_factory=list)
    _started: int = 0

    def start_gateway(self) -> str:
        port = free_port()
        self.gateway = start_service("api", {**self.env, "SHIFTCLIPPER_PORT": str(port)}, self._dir("api"))
        self.url = f"http://127.0.0.1:{port}"
        wait_ready(self.url, self.gateway)
        return self.url

    def start_tracker(self) -> ManagedProcess:
        tracker = start_service("tracker", self.env, self._dir("tracker"))
        self.trackers.append(tracker)
        return tracker

    def start_fake_tracker(self, **extra: str) -> ManagedProcess:
        """The real tracker worker loop with a fast fake pipeline (tests/support/fake_tracker_worker.py)."""
        argv = [sys.executable, "-m", "tests.support.fake_tracker_worker"]
        env = {**self.env, "PYTHONPATH": str(REPO), **extra}
        tracker = ManagedProcess("fake-tracker", argv, self._dir("fake-tracker") / "tracker.log", env=env).start()
        self.trackers.append(tracker)
        return tracker

    def live_trackers(self) -> list[ManagedProcess]:
        return [t for t in self.trackers if t.alive]

    def _dir(self, name: str) -> Path:
        self._started += 1
        return self.logs / f"{self._started:02d}-{name}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=ALICE, timeout=60)

    def stop(self) -> None:
        for proc in [*self.trackers, self.exporter, self.gateway]:
            if proc is not None:
                proc.stop()
        self.infra.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("faults")
    infra = start_infra(root / "infra", ack_wait_s=ACK_WAIT_S, max_attempts=MAX_ATTEMPTS)
    # checkpoints every wall second: the practice clip takes ~10 s to track, the default 10 s cadence left the
    # kill test racing the job's end for its one checkpoint
    env = service_env(
        infra.config,
        SHIFTCLIPPER_MODEL_PATH=str(TFLITE_MODEL),
        SHIFTCLIPPER_LOG_JSON="false",
        SHIFTCLIPPER_CHECKPOINT_EVERY_S="1",
        PYTHONUNBUFFERED="1",
    )
    made = Stack(infra, root / "logs", env)
    try:
        made.exporter = start_service("exporter", env, made._dir("exporter"))
        if HAVE_MODEL:
            made.start_tracker()
        made.start_gateway()
        yield made
    finally:
        made.stop()


@pytest.fixture(scope="session")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of a moving bar: no people, so a tracker finishes it quickly (done_no_shifts)."""
    return make_video(tmp_path_factory.mktemp("videos") / "bar.mp4", seconds=4.0, fps=25)


def submit(client: httpx.Client, video: Path, name: str = "fault", run: bool = True) -> str:
    """Create, upload, set up and (optionally) run a job; returns its id."""
    job_id: str = client.post("/jobs", json={"name": name}).json()["job_id"]
    resp = client.put(f"/jobs/{job_id}/video?filename=v.mp4", content=video.read_bytes(), headers=_MP4)
    assert resp.status_code == 200, resp.text
    client.put(f"/jobs/{job_id}/setup", json={"jersey_number": "19", "jersey_color": "red"}).raise_for_status()
    if run:
        assert client.post(f"/jobs/{job_id}/run").status_code == 202
    return job_id


_MP4 = {"Content-Type": "video/mp4"}


def corrupt_video(src: Path, dst: Path) -> Path:
    """Same container header (the gateway's probe accepts it) with random bytes as frame data."""
    data = bytearray(src.read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 : at - 4 + size] = random.Random(5).randbytes(size - 8)
    dst.write_bytes(bytes(data))
    return dst


class StatusRecorder:
    """Every status record the SSE stream of a job delivers, in order (a background thread)."""

    def __init__(self, url: str, job_id: str) -> None:
        self.records: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(url, job_id), daemon=True)
        self._thread.start()

    def _run(self, url: str, job_id: str) -> None:
        try:
            with (
                httpx.Client(base_url=url, headers=ALICE) as client,
                client.stream("GET", f"/jobs/{job_id}/events", timeout=httpx.Timeout(30, read=600)) as resp,
            ):
                for line in resp.iter_lines():
                    if line.startswith("data:") and "{" in line:
                        self.records.append(json.loads(line[5:]))
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float) -> list[dict[str, Any]]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the SSE stream did not end"
        assert self.error is None, self.error
        return self.records


def assert_monotone(records: list[dict[str, Any]]) -> None:
    """Within an attempt neither the state nor the progress ever goes backwards."""
    for before, after in itertools.pairwise(records):
        where = f"{before['status']}@{before['progress']} -> {after['status']}@{after['progress']}"
        assert after["attempt"] >= before["attempt"], where
        if after["attempt"] == before["attempt"]:
            assert after["progress"] >= before["progress"], where
            assert STATE_RANK[JobState(after["status"])] >= STATE_RANK[JobState(before["status"])], where


def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def wait_progress(client: httpx.Client, job_id: str, minimum: float, timeout: float = 180) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        assert status["status"] not in ("failed", "cancelled", "done", "done_no_shifts"), status
        return status if status["status"] == "tracking" and status["progress"] >= minimum else None

    result: dict[str, Any] = wait_for(check, timeout, f"{job_id} tracking past {minimum}")
    return result


def run_async(coro: Any) -> Any:
    """Run a coroutine on a private loop (tests here are synchronous; pytest-asyncio's loop is shared)."""
    return asyncio.run(coro)


async def _with_js(infra: Infra, use: Any) -> Any:
    nc = await nats.connect(infra.config.nats_url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        return await use(nc.jetstream(timeout=5))
    finally:
        await nc.close()


def checkpoint_exists(infra: Infra, job_id: str) -> bool:
    async def use(js: JetStreamContext) -> bool:
        kv = await js.key_value(names.CHECKPOINT_BUCKET)
        try:
            return bool((await kv.get(job_id)).value)
        except KeyNotFoundError:
            return False

    return bool(run_async(_with_js(infra, use)))


def work_consumer(infra: Infra) -> tuple[int, int]:
    """(messages being worked on, messages waiting) on the tracker's consumer."""

    async def use(js: JetStreamContext) -> tuple[int, int]:
        info = await js.consumer_info(names.WORK_STREAM, names.TRACKER_CONSUMER)
        return info.num_ack_pending or 0, info.num_pending or 0

    result: tuple[int, int] = run_async(_with_js(infra, use))
    return result


async def _object_keys(infra: Infra, prefix: str) -> list[str]:
    from shiftclipper_common.storage import ObjectStore

    store = await ObjectStore(infra.config).start()
    try:
        return await store.list_keys(prefix)
    finally:
        await store.close()


def object_keys(infra: Infra, prefix: str) -> list[str]:
    result: list[str] = run_async(_object_keys(infra, prefix))
    return result


@pytest.fixture
def fake_trackers(stack: Stack) -> Iterator[Stack]:
    """Only fake trackers work while the test runs: real ones (if any) are stopped, then one is restarted."""
    real = [t for t in stack.live_trackers() if t.name == "tracker"]
    for tracker in real:
        tracker.stop()
    try:
        yield stack
    finally:
        for tracker in stack.live_trackers():
            if tracker.name == "fake-tracker":
                tracker.signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
                tracker.stop()
        if real:
            stack.start_tracker()


def status_history(infra: Infra, job_id: str) -> list[dict[str, Any]]:
    """The job's status records still kept by the status KV (its last revisions), oldest first."""

    async def use(js: JetStreamContext) -> list[dict[str, Any]]:
        kv = await js.key_value(names.STATUS_BUCKET)
        for _ in range(10):
            try:
                return [json.loads(entry.value) for entry in await kv.history(job_id) if entry.value]
            except NoKeysError:
                # nats-py's history watcher can report "no keys" when its ordered consumer starts before the
                # stream answers (seen under load after a server restart); the record exists, so ask again.
                await asyncio.sleep(0.5)
        raise AssertionError(f"no status history for {job_id}")

    result: list[dict[str, Any]] = run_async(_with_js(infra, use))
    return result


def log_text(proc: ManagedProcess) -> str:
    return proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
