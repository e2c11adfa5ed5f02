"""Run the projector on its own: `python -m shiftclipper_projector` (the gateway also embeds it)."""

from __future__ import annotations

import asyncio

from shiftclipper_common.service import run_service

from .consumer import run_projector

if __name__ == "__main__":
    asyncio.run(run_service("projector", lambda config, js, store, stop: run_projector(js, stop)))
