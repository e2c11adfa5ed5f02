"""Job definitions in the jobs KV bucket (the gateway is their only writer)."""

from __future__ import annotations

import hashlib

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shiftclipper_contracts import names
from shiftclipper_contracts.jobs import JobRecord

from .errors import ApiError

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JobRecord)


class Conflict(Exception):
    """Someone else changed the record first."""


class JobsRepo:
    def __init__(self, jobs: KeyValue, idempotency: KeyValue) -> None:
        self._jobs, self._idem = jobs, idempotency

    @classmethod
    async def open(cls, js: JetStreamContext) -> JobsRepo:
        return cls(await js.key_value(names.JOBS_BUCKET), await js.key_value(names.IDEMPOTENCY_BUCKET))

    async def get(self, job_id: str) -> tuple[JobRecord, int] | None:
        try:
            entry = await self._jobs.get(job_id)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return _decoder.decode(entry.value), entry.revision or 0

    async def create(self, record: JobRecord) -> None:
        await self._jobs.create(record.job_id, _encoder.encode(record))

    async def update(self, record: JobRecord, revision: int) -> int:
        try:
            return await self._jobs.update(record.job_id, _encoder.encode(record), last=revision)
        except KeyWrongLastSequenceError:
            raise Conflict(record.job_id) from None

    async def delete(self, job_id: str) -> None:
        await self._jobs.purge(job_id)

    async def claim_idempotency_key(self, owner: str, key: str, job_id: str) -> str:
        """Bind (owner, key) to job_id unless already bound; returns the job id that owns the key."""
        if len(key) > 256:
            raise ApiError(400, "invalid_request", "Idempotency-Key longer than 256 characters", "Idempotency-Key")
        slot = f"{owner}.{hashlib.sha256(key.encode()).hexdigest()}"
        try:
            await self._idem.create(slot, job_id.encode())
            return job_id
        except Exception:
            entry = await self._idem.get(slot)
            return (entry.value or b"").decode()
