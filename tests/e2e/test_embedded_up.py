"""`shiftclipper up`: the embedded stack starts, serves, stops cleanly on Ctrl-C, and a second `up`
on the same data directory still has every earlier job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shiftclipper_common.localinfra import free_port
from tests.conftest import PRACTICE_CLIP, TFLITE_MODEL, needs_shared

pytestmark = pytest.mark.slow


def _up(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], dict, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shiftclipper_cli.main", "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SHIFTCLIPPER_")},
    )  # fmt: skip
    lines = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("API key"):
            info = json.loads((data_dir / "stack.json").read_text())
            return proc, info, lines
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("up did not start: " + "".join(lines))


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _all_children(pid: int, expected: int, timeout: float = 30.0) -> list[int]:
    """The tracker (no weights here) exits a few seconds after start, so the count is polled rather than read
    once."""
    deadline = time.monotonic() + timeout
    children = _children_of(pid)
    while len(children) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        children = _children_of(pid)
    return children


def test_up_restart_keeps_jobs(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    proc, info, said = _up(data_dir, port)
    try:
        key = info["api_key"].partition(":")[2]
        client = httpx.Client(base_url=info["api_url"], headers={"X-API-Key": key}, timeout=30)
        job_id = client.post("/jobs", json={"name": "persisted"}).json()["job_id"]
        children = _all_children(proc.pid, 4)
        time.sleep(3)  # past the first restart back-off: a restarted tracker would show up as a fifth child
        assert len(_children_of(proc.pid)) == 4  # nats, s3, api, exporter: a tracker with no weights stays down
    finally:  # a failed assertion must not leave the stack running
        proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert proc.stdout is not None
    out = "".join(said) + proc.stdout.read()
    assert "tracker cannot run with these settings" in out and "tracker exited; restarting" not in out
    assert all(not Path(f"/proc/{pid}").exists() for pid in children)

    proc2, info2, _ = _up(data_dir, port)
    try:
        client2 = httpx.Client(base_url=info2["api_url"], headers={"X-API-Key": key}, timeout=30)
        again = client2.get(f"/jobs/{job_id}")
        assert again.status_code == 200 and again.json()["name"] == "persisted"
    finally:
        proc2.send_signal(signal.SIGINT)
        proc2.wait(60)


@needs_shared(PRACTICE_CLIP, TFLITE_MODEL)
def test_clip_starts_its_own_stack_and_waits_for_the_tracker_quietly(tmp_path):
    """The README's main command (`make demo`): `shiftclipper clip` with no stack running starts one, runs the job,
    downloads it and stops the stack. The tracker it starts is still loading its models when the job is queued,
    which is no reason to say that no tracker is running."""
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTCLIPPER_")}
    env["SHIFTCLIPPER_MODEL_PATH"] = str(TFLITE_MODEL)
    args = ["clip", str(PRACTICE_CLIP), "--number", "19", "--color", "red", "--out", str(out)]
    args += ["--data-dir", str(tmp_path / "data"), "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "shiftclipper_cli.main", *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "starting the embedded stack" in done.stderr and "no tracker is running" not in done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["shift_count"] == 1 and (out / "clips" / "000.mp4").stat().st_size > 0
