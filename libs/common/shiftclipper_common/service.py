"""Start-up and shutdown shared by the worker services: config, logs, clients, signals, health port."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

import msgspec
from nats.js import JetStreamContext

from shiftclipper_contracts.config import ServiceConfig, load_config, public_config
from shiftclipper_contracts.provision import CONSUMER_STREAM

from .bus import close, connect
from .health import Health
from .logs import configure_logging
from .storage import ObjectStore

ServiceBody = Callable[[ServiceConfig, JetStreamContext, ObjectStore, asyncio.Event], Awaitable[None]]

EXIT_CONFIG = os.EX_CONFIG
"""Exit status of a service that cannot run with its settings (sysexits' EX_CONFIG): restarting it cannot help,
so `shiftclipper up` stops restarting it and says why (compose and Kubernetes still restart with backoff)."""


def exit_config(name: str, problem: str) -> NoReturn:
    """Stop the process on a settings problem: one clear line on stderr, exit status EXIT_CONFIG."""
    print(f"{name}: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CONFIG)


def load_config_or_exit(name: str) -> ServiceConfig:
    """The config from the environment; a malformed setting exits with EXIT_CONFIG, naming the setting."""
    try:
        return load_config()
    except msgspec.ValidationError as exc:
        exit_config(name, f"bad setting: {exc} (environment variables SHIFTCLIPPER_<FIELD>, docs/configuration.md)")


async def run_service(name: str, body: ServiceBody, prepare: Callable[[ServiceConfig], object] | None = None) -> None:
    """Load config, log it (secrets masked), open the health/metrics port, run `prepare` (e.g. load
    models) before connecting, then run `body` until SIGTERM/SIGINT sets its stop event.

    The port opens first so /health/live answers while models load and /health/ready says "not yet";
    readiness covers the durable consumer named like the service (tracker, exporter) when there is one."""
    config = load_config_or_exit(name)
    log = configure_logging(name, config.log_json, config.log_level)
    log.info("starting", config=public_config(config))
    consumer = (CONSUMER_STREAM[name], name) if name in CONSUMER_STREAM else None
    health = Health(consumer=consumer)
    await health.start(config.metrics_port)
    try:
        if prepare is not None:
            await asyncio.to_thread(prepare, config)
        nc, js = await connect(config, name)
        store = await ObjectStore(config).start()
        health.attach(nc, js, store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            health.stopping = True  # not ready while draining: a rollout waits for the replacement
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            await body(config, js, store, stop)
        finally:
            await store.close()
            await close(nc)
            log.info("stopped")
    finally:
        await health.close()
