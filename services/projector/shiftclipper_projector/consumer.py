"""The projector loop: consume every event once, write the status record with compare-and-set."""

from __future__ import annotations

import asyncio

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shiftclipper_contracts import names
from shiftclipper_contracts.events import Event, decode_event
from shiftclipper_contracts.status import StatusRecord

from .transitions import apply_event

log = structlog.get_logger()
_encoder = msgspec.json.Encoder()
_status_decoder = msgspec.json.Decoder(StatusRecord)
BATCH = 256


async def write_status(kv: KeyValue, event: Event, seq: int) -> None:
    """Apply one event with compare-and-set, retrying when another projector replica wrote first."""
    while True:
        try:
            entry = await kv.get(event.job_id)
            current, revision = _status_decoder.decode(entry.value or b""), entry.revision
        except KeyNotFoundError:
            current, revision = None, None
        updated = apply_event(current, event, seq)
        try:
            if updated is None:
                if current is not None:
                    await kv.delete(event.job_id, last=revision)
            elif updated is not current:
                value = _encoder.encode(updated)
                if revision is None:
                    await kv.create(event.job_id, value)
                else:
                    await kv.update(event.job_id, value, last=revision)
            return
        except (KeyWrongLastSequenceError, nats.js.errors.BadRequestError):
            await asyncio.sleep(0)  # lost the race: re-read and re-apply


async def run_projector(js: JetStreamContext, stop: asyncio.Event) -> None:
    kv = await js.key_value(names.STATUS_BUCKET)
    sub = await js.pull_subscribe_bind(names.PROJECTOR_CONSUMER, stream=names.EVENTS_STREAM)
    try:
        await _consume(kv, sub, stop)
    finally:
        await sub.unsubscribe()


async def _consume(kv: KeyValue, sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            msgs = await sub.fetch(BATCH, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except (nats.errors.ConnectionClosedError, nats.errors.Error) as exc:
            log.warning("projector fetch failed", error=str(exc))
            await asyncio.sleep(0.5)
            continue
        for msg in msgs:
            await _project_one(kv, msg)


async def _project_one(kv: KeyValue, msg: Msg) -> None:
    try:
        event = decode_event(msg.data)
    except msgspec.DecodeError as exc:
        log.error("undecodable event dropped", subject=msg.subject, error=str(exc))
        await msg.term()
        return
    try:
        await write_status(kv, event, msg.metadata.sequence.stream)
    except Exception as exc:
        log.error("status write failed", job_id=event.job_id, error=str(exc))
        await msg.nak(delay=1.0)
        return
    await msg.ack()
