"""Job setup validation: tuning overrides on top of the camera preset."""

from __future__ import annotations

import pytest

from shiftclipper_contracts.job_setup import PRESETS, CameraMode, SetupError, setup_from_obj

TARGET = {"jersey_number": "4", "jersey_color": "red"}


@pytest.mark.parametrize(
    ("override", "field", "value"),
    [
        ({"detect_imgsz": 960}, "detect_imgsz", 960),  # an int field (the web UI's step-32 input)
        ({"lost_timeout_s": 4}, "lost_timeout_s", 4.0),  # a float field given a whole number
        ({"ocr_min_conf": 0.45}, "ocr_min_conf", 0.45),
    ],
)
def test_a_tuning_override_replaces_the_presets_value(override: dict, field: str, value: float) -> None:
    tuning = setup_from_obj({**TARGET, "tuning": override}).effective_tuning()
    assert getattr(tuning, field) == value and type(getattr(tuning, field)) is type(value)
    preset = PRESETS[CameraMode.broadcast]
    assert all(getattr(tuning, f) == getattr(preset, f) for f in preset.__struct_fields__ if f != field)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"detect_imgsz": 500}, "tuning.detect_imgsz"),  # not a multiple of 32
        ({"detect_imgsz": 640.5}, "tuning.detect_imgsz"),
        ({"detect_fps": 0}, "tuning.detect_fps"),
        ({"warp_speed": 9}, "tuning"),
    ],
)
def test_a_bad_tuning_override_names_its_field(override: dict, where: str) -> None:
    with pytest.raises(SetupError) as err:
        setup_from_obj({**TARGET, "tuning": override})
    assert where in str(err.value)
