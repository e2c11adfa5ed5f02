"""The harness itself: real servers answer, streams and buckets are provisioned idempotently."""

from __future__ import annotations

from shiftclipper_common.bus import connect
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import names


async def test_provision_is_idempotent(infra):
    nc, js = await connect(infra.config, "test")
    nc2, js2 = await connect(infra.config, "test2")  # second provision over existing objects
    info = await js.stream_info(names.WORK_STREAM)
    assert str(info.config.retention) in {"workqueue", "RetentionPolicy.WORK_QUEUE"}
    events = await js.stream_info(names.EVENTS_STREAM)
    assert str(events.config.retention) in {"limits", "RetentionPolicy.LIMITS"}
    kv = await js2.key_value(names.CHECKPOINT_BUCKET)  # not the status bucket: gateways watch that one
    await kv.put("probe", b"1")
    assert (await kv.get("probe")).value == b"1"
    await nc.close()
    await nc2.close()


async def test_object_store_streams_multipart(infra):
    store = await ObjectStore(infra.config).start()

    async def chunks():
        for _ in range(3):
            yield b"a" * (3 * 1024 * 1024)

    size = await store.put_stream("jobs/x/input/video.mp4", chunks(), max_bytes=10**9)
    assert size == 9 * 1024 * 1024
    head = await store.head("jobs/x/input/video.mp4")
    assert head is not None and head["ContentLength"] == size
    ranged = await store.open_range("jobs/x/input/video.mp4", "bytes=10-19")
    assert ranged["ContentLength"] == 10
    assert await store.delete_prefix("jobs/x/") == 1
    assert await store.head("jobs/x/input/video.mp4") is None
    await store.close()
