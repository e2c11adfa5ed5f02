"""No dead settings: every field of the service config and of a job's setup is read by code other than the
module that declares it (SPEC: ShiftClipper v1 carried settings nothing used)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from shiftclipper_contracts import config, job_setup

REPO = Path(__file__).resolve().parents[2]
SETTINGS = [config.ServiceConfig, job_setup.JobSetup, job_setup.Tuning, job_setup.SeedClick]


def _code_outside(declared_in: str) -> str:
    files = [*REPO.glob("services/*/shiftclipper_*/**/*.py"), *REPO.glob("libs/*/shiftclipper_*/**/*.py")]
    return "\n".join(p.read_text() for p in files if p.resolve() != Path(declared_in).resolve())


def _unread(fields: tuple[str, ...], code: str) -> list[str]:
    """Fields neither read as an attribute (`.name`) nor named as a string key."""
    return [f for f in fields if not re.search(rf"\.{f}\b|[\"']{f}[\"']", code)]


@pytest.mark.parametrize("struct", SETTINGS, ids=lambda s: s.__name__)
def test_every_setting_is_read_somewhere(struct: type[msgspec.Struct]) -> None:
    code = _code_outside(str(__import__(struct.__module__, fromlist=["_"]).__file__))
    assert not _unread(struct.__struct_fields__, code), f"{struct.__name__} has fields nothing reads"


def test_the_check_finds_an_unread_field() -> None:
    code = _code_outside(str(job_setup.__file__))
    fields = ("jersey_number", "lost_timeout", "never_read_anywhere")  # "lost_timeout": a prefix of a real one
    assert _unread(fields, code) == ["lost_timeout", "never_read_anywhere"]
