"""A worker's own HTTP port (tracker, exporter): `/metrics`, `/health/live`, `/health/ready`.

Served from the worker's event loop, not a thread: a loop that stops turning (and so stops heartbeating
its JetStream messages) also stops answering `/health/live`. `/health/ready` is true once the worker
is connected and while NATS answers, its durable consumer can be read (a JetStream leader exists for it)
and object storage answers; it turns false when the worker begins to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import msgspec
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .storage import ObjectStore

log = structlog.get_logger()
CHECK_TIMEOUT_S = 2.0
"""Each readiness check gives up after this (probe timeouts are a few seconds)."""
_MAX_REQUEST_BYTES = 8192


@dataclass
class Health:
    """Readiness inputs, filled in as the worker starts (`attach`) and stops (`stopping`)."""

    consumer: tuple[str, str] | None = None
    """(stream, durable consumer) the worker pulls from."""
    nc: Client | None = None
    js: JetStreamContext | None = None
    store: ObjectStore | None = None
    stopping: bool = False
    _server: asyncio.Server | None = field(default=None, repr=False)

    def attach(self, nc: Client, js: JetStreamContext, store: ObjectStore) -> None:
        self.nc, self.js, self.store = nc, js, store

    async def checks(self) -> dict[str, bool]:
        """Every readiness check, run concurrently, each bounded by CHECK_TIMEOUT_S."""
        names = ["nats", "consumer", "storage"]
        results = await asyncio.gather(self._nats(), self._consumer(), self._storage(), return_exceptions=True)
        out = {name: result is True for name, result in zip(names, results, strict=True)}
        out["running"] = self.nc is not None and not self.stopping
        return out

    async def _nats(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def _consumer(self) -> bool:
        if self.js is None or self.nc is None or not self.nc.is_connected:
            return False
        if self.consumer is None:
            return True
        stream, durable = self.consumer
        await self.js.consumer_info(stream, durable, timeout=CHECK_TIMEOUT_S)
        return True

    async def _storage(self) -> bool:
        return self.store is not None and await self.store.is_up(timeout=CHECK_TIMEOUT_S)

    async def start(self, port: int, host: str = "0.0.0.0") -> None:
        """Listen on `port` (0 = off). All interfaces by default: kubelet and Prometheus reach the pod IP."""
        if port:
            self._server = await asyncio.start_server(self._handle, host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path = _request_line(head)
            status, ctype, body = await self._route(method, path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError, ValueError):
            pass  # a probe that hung up or sent garbage gets nothing
        except Exception as exc:
            log.warning("health request failed", error=str(exc))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest()
        if path == "/health/live":
            return "200 OK", "application/json", b'{"status":"ok"}'
        if path == "/health/ready":
            checks = await self.checks()
            ready = all(checks.values())
            body = msgspec.json.encode({"status": "ok" if ready else "unavailable", "checks": checks})
            return ("200 OK" if ready else "503 Service Unavailable"), "application/json", body
        return "404 Not Found", "text/plain", b"not found\n"


def _request_line(head: bytes) -> tuple[str, str]:
    """(method, path without query) of an HTTP/1.x request head."""
    if len(head) > _MAX_REQUEST_BYTES:
        raise ValueError("request head too large")
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method.upper(), target.split("?", 1)[0]
