"""Run the projector on its own: `python -m shiftclipper_projector` (the gateway also embeds it)."""

from __future__ import annotations

import asyncio
import signal

from shiftclipper_common.bus import close, connect
from shiftclipper_common.logs import configure_logging
from shiftclipper_contracts.config import load_config, public_config

from .consumer import run_projector


async def main() -> None:
    config = load_config()
    log = configure_logging("projector", config.log_json, config.log_level)
    log.info("starting", config=public_config(config))
    nc, js = await connect(config, "projector")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_projector(js, stop)
    await close(nc)


if __name__ == "__main__":
    asyncio.run(main())
