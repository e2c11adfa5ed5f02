"""Start-up and shutdown shared by the worker services: config, logs, clients, signals."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext

from shiftclipper_contracts.config import ServiceConfig, load_config, public_config

from .bus import close, connect
from .logs import configure_logging
from .metrics import serve_metrics
from .storage import ObjectStore

ServiceBody = Callable[[ServiceConfig, JetStreamContext, ObjectStore, asyncio.Event], Awaitable[None]]


async def run_service(name: str, body: ServiceBody, prepare: Callable[[ServiceConfig], object] | None = None) -> None:
    """Load config, log it (secrets masked), run `prepare` (e.g. load models) before connecting,
    then run `body` until SIGTERM/SIGINT sets its stop event."""
    config = load_config()
    log = configure_logging(name, config.log_json, config.log_level)
    log.info("starting", config=public_config(config))
    if prepare is not None:
        await asyncio.to_thread(prepare, config)
    serve_metrics(config.metrics_port)
    nc, js = await connect(config, name)
    store = await ObjectStore(config).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await body(config, js, store, stop)
    finally:
        await store.close()
        await close(nc)
        log.info("stopped")
