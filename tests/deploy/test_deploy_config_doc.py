"""docs/configuration.md is generated from ServiceConfig and must be up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shiftclipper_contracts.config import ENV_PREFIX, ServiceConfig

REPO = Path(__file__).resolve().parents[2]


def load_generator():  # deploy/ is not a package
    spec = importlib.util.spec_from_file_location("gen_config_doc", REPO / "deploy" / "gen_config_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_doc_is_up_to_date():
    gen = load_generator()
    assert gen.DOC_PATH.read_text() == gen.render(), "run: python deploy/gen_config_doc.py"


def test_every_field_has_a_row_with_default_and_doc():
    rows = [line for line in (REPO / "docs" / "configuration.md").read_text().splitlines() if line.startswith("| `")]
    assert len(rows) == len(ServiceConfig.__struct_fields__)
    for name, row in zip(ServiceConfig.__struct_fields__, rows, strict=True):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[0].startswith(f"`{ENV_PREFIX}{name.upper()}`")
        assert cells[2] and cells[4], row
