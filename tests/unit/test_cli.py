"""The command line: help and defaults come from the contracts; bad input fails clearly."""

from __future__ import annotations

import json

import cv2
import pytest

from shiftclipper_cli.main import build_parser, main
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
