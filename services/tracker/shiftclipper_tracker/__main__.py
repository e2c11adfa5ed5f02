"""Run a tracker: `python -m shiftclipper_tracker`. Models load once, before the first job."""

from __future__ import annotations

import asyncio

from shiftclipper_common.service import exit_config, run_service
from shiftclipper_contracts.config import ServiceConfig

from .pipeline import Models
from .worker import TrackerWorker

_models: list[Models] = []


def load_models(config: ServiceConfig) -> None:
    try:
        _models.append(Models(config))
    except FileNotFoundError as exc:
        # A clear message instead of a traceback, and an exit status that says restarting will not help.
        exit_config("tracker", f"{exc}; set SHIFTCLIPPER_MODEL_PATH to detector weights (.pt/.onnx/.engine/.tflite)")


if __name__ == "__main__":
    asyncio.run(
        run_service(
            "tracker",
            lambda config, js, store, stop: TrackerWorker(config, js, store, _models[0]).run(stop),
            prepare=load_models,
        )
    )
