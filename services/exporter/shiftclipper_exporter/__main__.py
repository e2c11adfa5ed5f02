"""Run an exporter: `python -m shiftclipper_exporter`."""

from __future__ import annotations

import asyncio
import signal

from shiftclipper_common.bus import close, connect
from shiftclipper_common.logs import configure_logging
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts.config import load_config, public_config

from .worker import ExporterWorker


async def main() -> None:
    config = load_config()
    log = configure_logging("exporter", config.log_json, config.log_level)
    log.info("starting", config=public_config(config))
    nc, js = await connect(config, "exporter")
    store = await ObjectStore(config).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await ExporterWorker(config, js, store).run(stop)
    await store.close()
    await close(nc)


if __name__ == "__main__":
    asyncio.run(main())
