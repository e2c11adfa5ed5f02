"""Run a tracker: `python -m shiftclipper_tracker`. Models load once, before the first job."""

from __future__ import annotations

import asyncio
import sys

from shiftclipper_common.service import run_service
from shiftclipper_contracts.config import ServiceConfig

from .pipeline import Models
from .worker import TrackerWorker

_models: list[Models] = []


def load_models(config: ServiceConfig) -> None:
    try:
        _models.append(Models(config))
    except FileNotFoundError as exc:
        # A clear message instead of a traceback; the supervisor restarts us with backoff.
        sys.exit(f"tracker: {exc}; set SHIFTCLIPPER_MODEL_PATH to detector weights (.pt/.onnx/.engine/.tflite)")


if __name__ == "__main__":
    asyncio.run(
        run_service(
            "tracker",
            lambda config, js, store, stop: TrackerWorker(config, js, store, _models[0]).run(stop),
            prepare=load_models,
        )
    )
