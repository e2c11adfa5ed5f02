"""Run the real services as subprocesses against test servers, as the embedded stack does."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shiftclipper_common.localinfra import ManagedProcess, free_port, wait_http_ready
from shiftclipper_contracts.config import ServiceConfig


def service_env(config: ServiceConfig, **extra: str) -> dict[str, str]:
    env = {
        "SHIFTCLIPPER_NATS_URL": config.nats_url,
        "SHIFTCLIPPER_S3_ENDPOINT": config.s3_endpoint,
        "SHIFTCLIPPER_S3_ACCESS_KEY": config.s3_access_key,
        "SHIFTCLIPPER_S3_SECRET_KEY": config.s3_secret_key,
        "SHIFTCLIPPER_S3_BUCKET": config.s3_bucket,
        "SHIFTCLIPPER_API_KEYS": config.api_keys,
        "SHIFTCLIPPER_ADMIN_KEY": config.admin_key,
        "SHIFTCLIPPER_ACK_WAIT_S": str(config.ack_wait_s),
        "SHIFTCLIPPER_MAX_ATTEMPTS": str(config.max_attempts),
    }
    env.update(extra)
    return env


def start_service(name: str, env: dict[str, str], logs: Path) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-m", f"shiftclipper_{name}"], logs / f"{name}.log", env=env).start()


@contextmanager
def gateway(config: ServiceConfig, logs: Path, **extra: str) -> Iterator[str]:
    port = free_port()
    proc = start_service("api", service_env(config, SHIFTCLIPPER_PORT=str(port), **extra), logs)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.stop()


@contextmanager
def gateway_with_exporter(config: ServiceConfig, logs: Path, **exporter_env: str) -> Iterator[str]:
    """Gateway + exporter, no tracker: the test publishes the tracker's events (tests/support/fake_tracker)."""
    exporter = start_service("exporter", service_env(config, **exporter_env), logs)
    try:
        with gateway(config, logs) as url:
            yield url
    finally:
        exporter.stop()


def wait_ready(url: str, proc: ManagedProcess, timeout: float = 60.0) -> None:
    try:
        wait_http_ready(f"{url}/health/ready", lambda: proc.alive, timeout)
    except RuntimeError:
        raise RuntimeError(f"{proc.name} died; log: {proc.log_path.read_text()[-3000:]}") from None


def wait_status(client: httpx.Client, job_id: str, states: set[str], timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}").json()
        if status["status"] in states:
            return status
        time.sleep(0.3)
    raise TimeoutError(f"job {job_id} stuck in {status.get('status')}: {status}")
