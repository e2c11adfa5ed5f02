"""Worker health endpoints (what deploy/k8s probes and compose health checks call): a started tracker
and exporter answer /health/live and /health/ready on SHIFTCLIPPER_METRICS_PORT; ready turns false
while NATS is down (live does not: restarting the worker would not help) and true again once it is
back, without a restart; ready turns false when object storage is down."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shiftclipper_common.localinfra import ManagedProcess, free_port, wait_http_ready
from tests.conftest import Infra
from tests.support.services import service_env, start_service

REPO = Path(__file__).resolve().parents[2]


def start_worker(name: str, infra: Infra, logs: Path) -> tuple[ManagedProcess, str]:
    """The exporter as shipped, or the tracker's service and worker around a fake detector
    (tests/support/fake_tracker_worker.py: no model weights needed to check its health port)."""
    port = free_port()
    env = service_env(
        infra.config, SHIFTCLIPPER_METRICS_PORT=str(port), PYTHONPATH=str(REPO), SHIFTCLIPPER_LOG_JSON="false"
    )
    if name == "exporter":
        proc = start_service("exporter", env, logs)
    else:
        argv = [sys.executable, "-m", "tests.support.fake_tracker_worker"]
        proc = ManagedProcess(name, argv, logs / f"{name}.log", env=env).start()
    return proc, f"http://127.0.0.1:{port}"


def poll(url: str, want: Callable[[httpx.Response], bool], timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=10)
            if want(last):
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{url}: not as wanted within {timeout}s; last: {getattr(last, 'text', last)!r}")


@pytest.fixture
def workers(make_infra: Callable[..., Infra], tmp_path: Path) -> Iterator[tuple[Infra, dict[str, str]]]:
    infra = make_infra()
    procs, urls = [], {}
    try:
        for name in ("tracker", "exporter"):
            proc, url = start_worker(name, infra, tmp_path / "logs")
            procs.append(proc)
            urls[name] = url
        for proc, url in zip(procs, urls.values(), strict=True):
            wait_http_ready(f"{url}/health/ready", lambda p=proc: p.alive, 120)
        yield infra, urls
    finally:
        for proc in procs:
            proc.stop()


def test_workers_answer_probes_and_follow_their_dependencies(workers: tuple[Infra, dict[str, str]]) -> None:
    infra, urls = workers
    for url in urls.values():
        assert httpx.get(f"{url}/health/live").json() == {"status": "ok"}
        ready = httpx.get(f"{url}/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ok",
            "checks": {"nats": True, "consumer": True, "storage": True, "running": True},
        }
        metrics = httpx.get(f"{url}/metrics")
        assert metrics.status_code == 200 and "# TYPE shiftclipper_worker_jobs_total counter" in metrics.text
        assert httpx.get(f"{url}/nope").status_code == 404
        assert httpx.post(f"{url}/health/live").status_code == 405

    infra.nats.stop()
    for url in urls.values():
        down = poll(f"{url}/health/ready", lambda r: r.status_code == 503, 30)
        assert down.json()["checks"]["nats"] is False and down.json()["checks"]["consumer"] is False
        assert httpx.get(f"{url}/health/live").status_code == 200

    infra.nats.start()  # same port, same store: the workers reconnect by themselves
    for url in urls.values():
        poll(f"{url}/health/ready", lambda r: r.status_code == 200, 60)

    infra.s3.stop()
    for url in urls.values():
        down = poll(f"{url}/health/ready", lambda r: r.status_code == 503, 30)
        assert down.json()["checks"]["storage"] is False and down.json()["checks"]["nats"] is True
