"""One KV watcher per gateway process: every status record in memory, fanned out to SSE clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

import msgspec
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from shiftclipper_contracts import names
from shiftclipper_contracts.status import StatusRecord

log = structlog.get_logger()
_decoder = msgspec.json.Decoder(StatusRecord)


class StatusCache:
    def __init__(self) -> None:
        self.records: dict[str, StatusRecord] = {}
        self._changed = asyncio.Condition()
        self._listeners: dict[str, set[asyncio.Queue[StatusRecord | None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def start(self, js: JetStreamContext) -> None:
        self._task = asyncio.create_task(self._watch_forever(js))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def get(self, job_id: str) -> StatusRecord | None:
        return self.records.get(job_id)

    async def _watch_forever(self, js: JetStreamContext) -> None:
        while True:  # a restarted nats-server ends the watcher; start a new one
            try:
                kv = await js.key_value(names.STATUS_BUCKET)
                await self._watch(kv)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("status watcher restarting", error=str(exc))
                await asyncio.sleep(0.5)

    async def _watch(self, kv: KeyValue) -> None:
        watcher = await kv.watchall()
        try:
            async for entry in watcher:
                if entry is None:  # initial values delivered
                    self.ready.set()
                    continue
                await self._apply(entry.key, entry.value if entry.operation is None else None)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    async def _apply(self, key: str, value: bytes | None) -> None:
        try:
            record = _decoder.decode(value) if value else None
        except msgspec.DecodeError as exc:  # one foreign or corrupt entry must not stop every status read
            log.warning("status entry skipped", job_id=key, error=str(exc))
            return
        if record is None:
            self.records.pop(key, None)
        else:
            self.records[key] = record
        for queue in self._listeners.get(key, ()):
            queue.put_nowait(record)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_seq(self, job_id: str, seq: int, timeout: float = 5.0, gone: bool = False) -> None:
        """Wait until the projector has applied event `seq` (read-your-writes for the gateway)."""

        def done() -> bool:
            record = self.records.get(job_id)
            return record is None if gone else record is not None and record.last_event_seq >= seq

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(done)

    @contextlib.contextmanager
    def subscribe(self, job_id: str) -> Iterator[asyncio.Queue[StatusRecord | None]]:
        queue: asyncio.Queue[StatusRecord | None] = asyncio.Queue()
        self._listeners[job_id].add(queue)
        try:
            yield queue
        finally:
            self._listeners[job_id].discard(queue)
            if not self._listeners[job_id]:
                del self._listeners[job_id]
