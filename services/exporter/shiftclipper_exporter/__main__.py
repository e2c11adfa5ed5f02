"""Run an exporter: `python -m shiftclipper_exporter`."""

from __future__ import annotations

import asyncio

from shiftclipper_common.service import run_service

from .worker import ExporterWorker

if __name__ == "__main__":
    asyncio.run(run_service("exporter", lambda config, js, store, stop: ExporterWorker(config, js, store).run(stop)))
