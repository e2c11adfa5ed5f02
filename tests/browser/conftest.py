"""Browser tests: a real stack (gateway + tracker + exporter on test NATS and S3) and a headless Chromium
driven by Playwright. Skipped cleanly where Playwright, Chromium or the shared test media are absent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TFLITE_MODEL
from tests.support.services import gateway, gateway_with_exporter, service_env, start_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


@pytest.fixture(scope="module")
def ui_stack(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("ui-logs")
    env = service_env(infra.config, SHIFTCLIPPER_MODEL_PATH=str(TFLITE_MODEL))
    workers = [start_service("tracker", env, logs), start_service("exporter", env, logs)]
    try:
        with gateway(infra.config, logs) as url:
            yield url
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture(scope="module")
def fake_stack(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Gateway + exporter, no tracker: the test publishes the tracker's events (tests/support/fake_tracker)."""
    with gateway_with_exporter(infra.config, tmp_path_factory.mktemp("ui-fake-logs")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium binary (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
