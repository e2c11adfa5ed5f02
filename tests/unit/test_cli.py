"""The command line: help and defaults come from the contracts; bad input fails clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import get_args

import cv2
import pytest

from shiftclipper_cli.main import build_parser, main
from shiftclipper_cli.stack import Stack, StackInfo
from shiftclipper_common.localinfra import ManagedProcess, free_port
from shiftclipper_common.service import EXIT_CONFIG
from shiftclipper_contracts.config import OcrEngine
from shiftclipper_contracts.job_setup import CameraMode, JobSetup, Mode
from tests.unit.test_ocr import player_crop


def test_clip_defaults_and_help_come_from_contracts():
    args = build_parser().parse_args(["clip", "v.mp4", "--number", "19", "--color", "red"])
    defaults = JobSetup(jersey_number="19", jersey_color="red")
    assert args.camera == defaults.camera_mode == CameraMode.broadcast
    assert args.mode == defaults.mode == Mode.shifts
    help_text = build_parser()._subparsers._group_actions[0].choices["clip"].format_help()  # type: ignore[union-attr]
    assert '"00" allowed' in help_text  # the jersey_number description in job_setup.py


def test_clip_rejects_missing_video_and_missing_model(tmp_path, monkeypatch, capsys):
    assert main(["clip", str(tmp_path / "none.mp4"), "--number", "19", "--color", "red"]) == 2
    assert "is not a file" in capsys.readouterr().err
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    monkeypatch.setenv("SHIFTCLIPPER_MODEL_PATH", str(tmp_path / "missing.pt"))
    code = main(["clip", str(video), "--number", "19", "--color", "red", "--data-dir", str(tmp_path / "d")])
    assert code == 2 and "SHIFTCLIPPER_MODEL_PATH" in capsys.readouterr().err


def test_invalid_number_is_rejected_by_argparse_free_validation():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["clip", "v.mp4", "--color", "red"])  # --number is required


def test_ocr_prints_one_json_line_per_image(tmp_path, capsys):
    crop = player_crop("19")  # a rendered red jersey with a white 19
    path = tmp_path / "crop.png"
    cv2.imwrite(str(path), crop)
    assert main(["ocr", str(path), str(tmp_path / "missing.png")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["file"] for row in lines] == [str(path), str(tmp_path / "missing.png")]
    assert lines[0]["number"] == "19" and lines[0]["confidence"] > 0
    assert lines[1]["number"] is None


def test_ocr_engine_comes_from_the_contracts_and_the_environment(tmp_path, monkeypatch, capsys):
    path = tmp_path / "crop.png"
    cv2.imwrite(str(path), player_crop("19"))
    ocr_help = build_parser()._subparsers._group_actions[0].choices["ocr"].format_help()  # type: ignore[union-attr]
    assert all(engine in ocr_help for engine in get_args(OcrEngine))
    monkeypatch.setenv("SHIFTCLIPPER_OCR_ENGINE", "tesseract")
    assert main(["ocr", str(path)]) == 2 and "ocr_engine" in capsys.readouterr().err
    # paddleocr asked for where it cannot load: a note and the warning on stderr, clean JSON lines on stdout
    monkeypatch.setenv("SHIFTCLIPPER_OCR_ENGINE", "paddleocr")
    monkeypatch.setenv("SHIFTCLIPPER_PADDLEOCR_MODEL_DIR", str(tmp_path / "no-model"))
    assert main(["ocr", str(path)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["number"] for line in out.splitlines()] == ["19"]
    assert "paddleocr could not load; reading with rapidocr" in err and "paddleocr_unavailable" in err


def _exits(name: str, status: int, log_dir) -> ManagedProcess:
    argv = [sys.executable, "-c", f"import sys; sys.exit({status})"]
    proc = ManagedProcess(name, argv, log_dir / f"{name}.log").start()
    proc.proc.wait()  # type: ignore[union-attr]
    return proc


def test_supervisor_restarts_a_crash_but_not_a_settings_error(tmp_path, capsys):
    stack = Stack(tmp_path)
    crashed, misconfigured = _exits("exporter", 1, tmp_path), _exits("tracker", EXIT_CONFIG, tmp_path)
    first = misconfigured.proc
    stack.services = {"exporter": crashed, "tracker": misconfigured}
    stack.supervise()
    stack.supervise()
    err = capsys.readouterr().err
    assert "exporter exited; restarting (#1)" in err
    assert err.count("tracker cannot run with these settings") == 1  # said once, not on every pass
    assert misconfigured.proc is first and stack.given_up == {"tracker"}
    stack.stop()


def test_a_gateway_that_never_gets_ready_is_reported_with_its_log(tmp_path, capsys):
    stack = Stack(tmp_path)
    port = free_port()
    stack.info = StackInfo(f"http://127.0.0.1:{port}", "k", "a", 0, 0, port, "s", "s")
    crash = "print('ERROR: [Errno 98] address already in use'); raise SystemExit(1)"
    stack.services = {"api": ManagedProcess("api", [sys.executable, "-c", crash], tmp_path / "api.log").start()}
    with pytest.raises(TimeoutError, match=r"not become ready in 2 s \(\d+ restarts\).*\n.*address already in use"):
        stack.wait_ready(timeout=2)
    stack.stop()


@pytest.mark.parametrize(
    ("module", "env"),
    [
        ("shiftclipper_tracker", {"SHIFTCLIPPER_MODEL_PATH": "/nonexistent/weights.tflite"}),
        ("shiftclipper_exporter", {"SHIFTCLIPPER_EXPORTER_CONCURRENCY": "many"}),
        ("shiftclipper_api", {"SHIFTCLIPPER_PORT": "-3"}),
    ],
)
def test_services_exit_with_config_status_on_bad_settings(module, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTCLIPPER_")}
    done = subprocess.run(
        [sys.executable, "-m", module], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EXIT_CONFIG, done.stderr
    setting = next(iter(env)).removeprefix("SHIFTCLIPPER_").lower()
    assert "Traceback" not in done.stderr and (setting in done.stderr or "SHIFTCLIPPER_MODEL_PATH" in done.stderr)
