"""Idempotent creation of the streams, consumers and KV buckets every service relies on.

Every service calls `provision` at start-up, so no start order is needed between them.
"""

from __future__ import annotations

import dataclasses

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

from . import names
from .config import ServiceConfig

EVENTS_MAX_AGE_S = 30 * 86400


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=names.WORK_STREAM,
            subjects=[names.WORK_SUBJECT],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=600.0,
        ),
        StreamConfig(
            name=names.EVENTS_STREAM,
            subjects=[names.EVENTS_SUBJECT_ALL],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=replicas,
            max_age=EVENTS_MAX_AGE_S,
            discard=DiscardPolicy.OLD,
            duplicate_window=600.0,
        ),
    ]


def max_deliveries(config: ServiceConfig) -> int:
    """JetStream's max_deliver for the work and exporter consumers: one more than `max_attempts`, so a worker sees
    the delivery past the last attempt and fails the job itself. After it, JetStream never delivers the message."""
    return config.max_attempts + 1


def consumer_configs(config: ServiceConfig) -> dict[str, ConsumerConfig]:
    """Durable pull consumers by stream. max_deliver is a backstop: workers fail a job themselves
    after `max_attempts` deliveries so the failure is recorded and dead-lettered."""
    return {
        names.TRACKER_CONSUMER: ConsumerConfig(
            durable_name=names.TRACKER_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=config.ack_wait_s,
            max_deliver=max_deliveries(config),
            max_ack_pending=config.tracker_concurrency,
            filter_subject=names.WORK_SUBJECT,
        ),
        names.EXPORTER_CONSUMER: ConsumerConfig(
            durable_name=names.EXPORTER_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=config.ack_wait_s,
            max_deliver=max_deliveries(config),
            max_ack_pending=64,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=[names.event_subject("*", kind) for kind in names.EXPORTER_EVENT_KINDS],
        ),
        names.PROJECTOR_CONSUMER: ConsumerConfig(
            durable_name=names.PROJECTOR_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30.0,
            max_ack_pending=1024,
            deliver_policy=DeliverPolicy.ALL,
            filter_subject=names.EVENTS_SUBJECT_ALL,
        ),
    }


CONSUMER_STREAM = {
    names.TRACKER_CONSUMER: names.WORK_STREAM,
    names.EXPORTER_CONSUMER: names.EVENTS_STREAM,
    names.PROJECTOR_CONSUMER: names.EVENTS_STREAM,
}

KV_BUCKETS = {
    names.STATUS_BUCKET: 16,
    names.JOBS_BUCKET: 4,
    names.IDEMPOTENCY_BUCKET: 1,
    names.CHECKPOINT_BUCKET: 1,
}
"""Bucket -> history kept per key (status keeps a short history for debugging monotonicity)."""


async def provision(js: JetStreamContext, config: ServiceConfig) -> None:
    for stream in stream_configs(config.stream_replicas):
        try:
            await js.add_stream(stream)
        except BadRequestError:
            await js.update_stream(stream)
    for consumer in consumer_configs(config).values():
        assert consumer.durable_name
        stream_name = CONSUMER_STREAM[consumer.durable_name]
        try:
            await js.add_consumer(stream_name, consumer)
        except BadRequestError:
            # Settings changed (e.g. a new concurrency limit): replace the durable consumer config.
            await js.add_consumer(stream_name, consumer)
    for bucket, history in KV_BUCKETS.items():
        await _provision_bucket(js, bucket, history, config.stream_replicas)


async def _provision_bucket(js: JetStreamContext, bucket: str, history: int, replicas: int) -> None:
    """Create the bucket, or bring an existing one to the wanted replicas and history (a deployment that
    grows from one NATS node to a cluster raises `stream_replicas` on buckets that already exist)."""
    try:
        await js.create_key_value(
            KeyValueConfig(bucket=bucket, history=history, storage=StorageType.FILE, replicas=replicas)
        )
    except BadRequestError:
        info = await js.stream_info(f"KV_{bucket}")  # a KV bucket is the stream KV_<bucket>
        wanted = dataclasses.replace(info.config, num_replicas=replicas, max_msgs_per_subject=history)
        if (info.config.num_replicas, info.config.max_msgs_per_subject) != (replicas, history):
            await js.update_stream(wanted)
