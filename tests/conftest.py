"""Shared fixtures: a real nats-server (JetStream) and a real SeaweedFS S3 server per test session.

Tests that need their own servers (fault injection restarts them) use the `make_infra` factory.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shiftclipper_common.localinfra import (
    ManagedProcess,
    S3Credentials,
    free_port,
    nats_process,
    seaweed_process,
    wait_s3_ready,
)
from shiftclipper_contracts.config import ServiceConfig, load_config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PRACTICE_CLIP = SHARED / "media" / "nhl_closeup_CHI_practice_tiktok_11s.mp4"
BROADCAST_CLIP = SHARED / "media" / "nhl_broadcast_BUF-EDM_2016-10-16_12s.mp4"
TFLITE_MODEL = SHARED / "models" / "yolov8n_int8.tflite"


@dataclass
class Infra:
    nats: ManagedProcess
    s3: ManagedProcess
    config: ServiceConfig
    root: Path

    def stop(self) -> None:
        self.nats.stop()
        self.s3.stop()


def start_infra(root: Path, **overrides: object) -> Infra:
    creds = S3Credentials(access_key="test" + secrets.token_hex(4), secret_key=secrets.token_hex(16))
    nats_port, s3_port = free_port(), free_port()
    nats = nats_process(root / "nats", nats_port).start()
    s3 = seaweed_process(root / "s3", s3_port, creds).start()
    config = local_config(f"nats://127.0.0.1:{nats_port}", s3_port, creds, **overrides)
    wait_s3_ready(config.s3_endpoint, creds, config.s3_bucket)
    return Infra(nats, s3, config, root)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    started = start_infra(tmp_path_factory.mktemp("infra"))
    yield started
    started.stop()


def local_config(nats_url: str, s3_port: int, creds: S3Credentials, **overrides: Any) -> ServiceConfig:
    """The services' config in tests: local NATS and S3, keys alice, bob and admin, console logs."""
    return load_config(
        {},
        nats_url=nats_url,
        s3_endpoint=f"http://127.0.0.1:{s3_port}",
        s3_access_key=creds.access_key,
        s3_secret_key=creds.secret_key,
        s3_bucket="shiftclipper-test",
        api_keys="alice:alice-key-123,bob:bob-key-456",
        admin_key="admin-key-789",
        log_json=False,
        **overrides,
    )


@pytest.fixture
def make_infra(tmp_path: Path) -> Iterator[Callable[..., Infra]]:
    """Private servers for one test (fault tests stop and restart them)."""
    made: list[Infra] = []

    def make(**overrides: object) -> Infra:
        made.append(start_infra(tmp_path / f"infra{len(made)}", **overrides))
        return made[-1]

    yield make
    for item in made:
        item.stop()


def needs_shared(*paths: Path) -> pytest.MarkDecorator:
    missing = [str(p) for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing), reason=f"shared test material absent: {missing}")
