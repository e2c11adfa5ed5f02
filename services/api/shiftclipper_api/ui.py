"""The web UI: static files (no build step) and `GET /ui/defaults`, the setup defaults, presets and field
docs derived from the contracts, so the browser never hard-codes a default. No API key needed here."""

from __future__ import annotations

import ast
import enum
import functools
import inspect
from pathlib import Path
from typing import Any

import msgspec
from litestar import Response, get
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from shiftclipper_contracts import job_setup
from shiftclipper_contracts.job_setup import PRESETS, CameraMode, ClipMode, JobSetup, Mode, Tuning

STATIC_DIR = Path(__file__).parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}


@get("/", include_in_schema=False, media_type="text/html")
async def index() -> Response[bytes]:
    return Response((STATIC_DIR / "index.html").read_bytes(), media_type="text/html", headers=_NO_CACHE)


@get("/ui/defaults", include_in_schema=False)
async def ui_defaults() -> dict[str, Any]:
    return defaults()


@functools.cache
def defaults() -> dict[str, Any]:
    """Everything the setup form shows: default values, presets, enum choices, docs and numeric bounds."""
    docs = _attribute_docs()
    enums: dict[str, type[enum.Enum]] = {"camera_mode": CameraMode, "mode": Mode, "clip_mode": ClipMode}
    setup_fields: dict[str, Any] = {}
    for field in msgspec.structs.fields(JobSetup):
        default = field.default_factory() if field.default_factory is not msgspec.NODEFAULT else field.default
        bounds = _bounds(JobSetup, field.name)
        kind = enums.get(field.name)
        doc = docs.get(("JobSetup", field.name)) or bounds.pop("description", "") or (kind and kind.__doc__) or ""
        setup_fields[field.name] = {
            "default": None if default is msgspec.NODEFAULT else msgspec.to_builtins(default),
            "required": field.required,
            "doc": doc,
            **bounds,
        }
    return {
        "setup": setup_fields,
        "presets": {mode.value: msgspec.to_builtins(tuning) for mode, tuning in PRESETS.items()},
        "tuning": {
            name: {"doc": docs.get(("Tuning", name), ""), **_bounds(Tuning, name)} for name in Tuning.__struct_fields__
        },
        "choices": {name: _choices(kind, docs) for name, kind in enums.items()},
    }


def _choices(kind: type[enum.Enum], docs: dict[tuple[str, str], str]) -> list[dict[str, str]]:
    return [{"value": member.value, "doc": docs.get((kind.__name__, member.name), "")} for member in kind]


def _bounds(struct: type[msgspec.Struct], name: str) -> dict[str, Any]:
    """`min`/`max`/`step` of a numeric field and its msgspec description, for `<input type=number>`."""
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    field = next(f for f in info.fields if f.name == name)
    out: dict[str, Any] = {}
    kind = field.type
    if isinstance(kind, msgspec.inspect.Metadata):
        if kind.extra_json_schema and "description" in kind.extra_json_schema:
            out["description"] = kind.extra_json_schema["description"]
        kind = kind.type
    if isinstance(kind, msgspec.inspect.FloatType | msgspec.inspect.IntType):
        lower = kind.ge if kind.ge is not None else kind.gt
        upper = kind.le if kind.le is not None else kind.lt
        out.update({k: v for k, v in (("min", lower), ("max", upper)) if v is not None})
        out["type"] = "int" if isinstance(kind, msgspec.inspect.IntType) else "float"
        if isinstance(kind, msgspec.inspect.IntType) and kind.multiple_of:
            out["step"] = kind.multiple_of
    return out


def _attribute_docs() -> dict[tuple[str, str], str]:
    """(class name, attribute) -> the docstring under the attribute in job_setup.py (PEP 257 style)."""
    tree = ast.parse(inspect.getsource(job_setup))
    docs: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for prev, item in zip(node.body, node.body[1:], strict=False):
            if not (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)):
                continue
            if isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name):
                target = prev.target.id
            elif isinstance(prev, ast.Assign) and isinstance(prev.targets[0], ast.Name):
                target = prev.targets[0].id
            else:
                continue
            docs[(node.name, target)] = " ".join(str(item.value.value).split())
    return docs


UI_ROUTES: list[ControllerRouterHandler] = [
    index,
    ui_defaults,
    create_static_files_router(path="/static", directories=[STATIC_DIR]),
]
"""Unauthenticated: the page, its assets and the defaults carry no job data."""
