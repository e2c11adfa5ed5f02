"""deploy/runpod/start.sh: the dry-run plan, shellcheck where installed, and a real background start
of the embedded stack with this venv (install skipped) that a second run leaves alone."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shiftclipper_common.localinfra import free_port, log_tail

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "runpod" / "start.sh"
MODEL = REPO.parent / "shared" / "models" / "yolov8n_int8.tflite"  # the tracker loads it where present


def run(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHIFTCLIPPER_", "RUNPOD_"))}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env={**base, **env}
    )


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    data, venv = tmp_path / "data", tmp_path / "venv"
    result = run("--dry-run", SHIFTCLIPPER_DATA_DIR=str(data), SHIFTCLIPPER_VENV=str(venv), RUNPOD_POD_ID="abc123")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"venv: create {venv}" in out
    assert f"pip install -e '{REPO}[all]'" in out
    assert f"shiftclipper up --data-dir {data} --host 0.0.0.0 --port 8000" in out
    assert "device: cuda   model: /workspace/models/yolo11n.pt" in out
    assert "https://abc123-8000.proxy.runpod.net" in out
    assert not data.exists() and not venv.exists()


def test_dry_run_defaults_to_workspace_and_honours_skip_install():
    result = run("--dry-run", SHIFTCLIPPER_SKIP_INSTALL="1")
    assert result.returncode == 0
    assert "--data-dir /workspace/shiftclipper --host 0.0.0.0" in result.stdout
    assert "install: skip" in result.stdout


def test_unknown_argument_is_refused():
    assert run("--nope").returncode == 2


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean():
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


def _logs(data: Path) -> str:
    """Every log's last lines, for a failure message: CI keeps nothing else."""
    return "".join(f"\n--- {log.name}\n{log_tail(log, lines=15)}" for log in sorted((data / "logs").glob("*.log")))


@pytest.mark.slow
def test_real_background_start_is_idempotent(tmp_path):
    data, port = tmp_path / "data", free_port()
    env = {
        "SHIFTCLIPPER_DATA_DIR": str(data),
        "SHIFTCLIPPER_VENV": sys.prefix,
        "SHIFTCLIPPER_SKIP_INSTALL": "1",
        "SHIFTCLIPPER_DEVICE": "cpu",
        "SHIFTCLIPPER_HOST": "127.0.0.1",
        "SHIFTCLIPPER_PORT": str(port),
        **({"SHIFTCLIPPER_MODEL_PATH": str(MODEL)} if MODEL.exists() else {}),
        # a pod whose pip needs a proxy: the stack's loopback traffic must not go to it (nothing listens there)
        **dict.fromkeys(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"), f"http://127.0.0.1:{free_port()}"),
    }
    first = run("--background", timeout=540, **env)  # past the stack's own bounds on each start step
    pid = int((data / "start.pid").read_text()) if (data / "start.pid").exists() else None
    try:
        assert first.returncode == 0, first.stdout + first.stderr + _logs(data)
        assert f"ready at http://127.0.0.1:{port}" in first.stdout
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
        second = run("--background", timeout=60, **env)
        assert second.returncode == 0 and "already running" in second.stdout
        assert int((data / "start.pid").read_text()) == pid
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # a stack that failed to start has exited already
                os.kill(pid, signal.SIGINT)
            assert _wait_gone(pid, 60), "the stack did not stop on SIGINT"
