"""NATS connection and event publishing shared by every service."""

from __future__ import annotations

import asyncio

import msgspec
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from shiftclipper_contracts import names
from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_contracts.events import Event, event_kind
from shiftclipper_contracts.provision import provision
from shiftclipper_contracts.status import StatusRecord

_encoder = msgspec.json.Encoder()
_status_decoder = msgspec.json.Decoder(StatusRecord)


async def connect(config: ServiceConfig, name: str) -> tuple[Client, JetStreamContext]:
    """Connect with unlimited reconnects (a restarted nats-server is picked up without a process
    restart) and make sure streams, consumers and buckets exist."""
    nc = await nats.connect(
        servers=[s.strip() for s in config.nats_url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )
    js = nc.jetstream(timeout=10)
    await provision(js, config)
    return nc, js


async def close(nc: Client, timeout: float = 5.0) -> None:
    """Flush what we published, then close; never hang a shutdown on a dead server."""
    try:
        await asyncio.wait_for(nc.drain(), timeout)
    except Exception:
        await nc.close()


async def read_status(kv: KeyValue, job_id: str) -> StatusRecord | None:
    """A job's status record from the status bucket, or None when the job is unknown or deleted."""
    try:
        entry = await kv.get(job_id)
    except KeyNotFoundError:
        return None
    return _status_decoder.decode(entry.value) if entry.value else None


def event_msg_id(event: Event, discriminator: str = "") -> str:
    """Deduplication id: a retried publish of the same fact is stored once. A tracker event's delivery
    is part of it: otherwise a superseded tracker's (fenced) `tracking_done` could be stored first and
    the newer delivery's real one dropped as its duplicate."""
    delivery = f"d{event.delivery}." if event.delivery else ""
    return f"{event.job_id}.{event.attempt}.{delivery}{event_kind(event)}.{discriminator}"


async def publish_event(js: JetStreamContext, event: Event, discriminator: str | None = None) -> int:
    """Publish an event; returns its stream sequence. `discriminator` makes the message id unique
    per fact (e.g. the segment index); None means the event is not deduplicated (progress ticks)."""
    headers = None
    if discriminator is not None:
        headers = {"Nats-Msg-Id": event_msg_id(event, discriminator)}
    subject = names.event_subject(event.job_id, event_kind(event))
    for delay in (0.2, 0.5, 1.0, 2.0, 4.0, None):
        try:
            ack = await js.publish(subject, _encoder.encode(event), headers=headers)
            return ack.seq
        except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
            if delay is None:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)
