"""S3-generic object storage (MinIO, SeaweedFS, AWS) over aioboto3.

One client per process; uploads stream through fixed-size multipart parts so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from shiftclipper_contracts.config import ServiceConfig

MIN_PART = 5 * 1024 * 1024
STORAGE_WAIT_S = (1.0, 2.0, 4.0, 8.0, 10.0)
RETRYABLE = (EndpointConnectionError, ConnectionError, asyncio.TimeoutError)


TRANSIENT_READ_MARKERS = (
    "Server returned 5XX",
    "Server returned 50",
    "Connection refused",
    "Connection reset",
    "Connection timed out",
)
"""How FFmpeg/PyAV report a failed read of a presigned URL that says nothing about the object itself."""


def is_transient_read_error(exc: BaseException) -> bool:
    """A media error caused by the storage server (5xx, refused or reset connection), not by the video:
    retry it with backoff like any transient error; never fail a job as `video_unreadable` for it. (A
    storage restart can fail a read and yet answer the 1-byte health read a moment later.)"""
    text = str(exc)
    return any(marker in text for marker in TRANSIENT_READ_MARKERS)


class ObjectNotFound(KeyError):
    pass


class UploadTooLarge(ValueError):
    pass


class ObjectStore:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.bucket = config.s3_bucket
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._presign_client: Any = None

    async def start(self) -> ObjectStore:
        session = aioboto3.Session()
        kwargs: dict[str, Any] = {
            "aws_access_key_id": self.config.s3_access_key or None,
            "aws_secret_access_key": self.config.s3_secret_key or None,
            "region_name": self.config.s3_region,
            "config": Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 8, "mode": "standard"},
                # Optional CRC checksums cost a full pass over every part; S3 verifies Content-MD5-free
                # uploads by length and ETag anyway.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=64,
                connect_timeout=5,
                read_timeout=120,
            ),
        }
        self._client = await self._stack.enter_async_context(
            session.client("s3", endpoint_url=self.config.s3_endpoint, **kwargs)
        )
        public = self.config.s3_public_endpoint or self.config.s3_endpoint
        self._presign_client = (
            self._client
            if public == self.config.s3_endpoint
            else await self._stack.enter_async_context(session.client("s3", endpoint_url=public, **kwargs))
        )
        return self

    async def close(self) -> None:
        await self._stack.aclose()

    @property
    def client(self) -> Any:
        return self._client

    async def ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            with contextlib.suppress(ClientError):
                await self._client.create_bucket(Bucket=self.bucket)

    async def ping(self) -> bool:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:
            return False

    async def can_read(self, key: str) -> bool:
        """Whether `key`'s first byte can be read now. A restarting S3 server answers bucket checks
        before it serves objects (5XX), so a bucket ping alone cannot tell an outage from bad input."""
        try:
            obj = await self._client.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-0")
            async with obj["Body"] as body:
                await body.read()
            return True
        except Exception:
            return False

    async def is_up(self, key: str | None = None, timeout: float = 3.0) -> bool:
        """A quick health check (the client's own retries take far longer than a JetStream AckWait);
        with `key`, storage counts as up only when that object is readable."""
        try:
            return await asyncio.wait_for(self.can_read(key) if key else self.ping(), timeout)
        except TimeoutError:
            return False

    async def wait_until_up(self, keepalive: Callable[[], Awaitable[object]], key: str | None = None) -> None:
        """Until storage answers again, with backoff; `keepalive` (e.g. a message's in_progress) runs
        between tries so the work is not redelivered meanwhile. An outage is not the job's fault."""
        for attempt in itertools.count():
            await asyncio.sleep(STORAGE_WAIT_S[min(attempt, len(STORAGE_WAIT_S) - 1)])
            with contextlib.suppress(Exception):
                await keepalive()
            if await self.is_up(key):
                return

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], max_bytes: int, content_type: str = "application/octet-stream"
    ) -> int:
        """Stream an async byte iterator into `key` with a multipart upload; returns the size.
        Memory held: one part. Aborts the upload (nothing left behind) on any error."""
        part_size = max(self.config.upload_part_bytes, MIN_PART)
        upload = await self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        buffer = bytearray()
        total = 0
        in_flight: asyncio.Task[None] | None = None  # one part uploads while the next one fills
        try:
            async for chunk in chunks:
                total += len(chunk)
                if total > max_bytes:
                    raise UploadTooLarge(f"upload exceeds the limit of {max_bytes} bytes")
                buffer += chunk
                if len(buffer) >= part_size:
                    if in_flight:
                        await in_flight
                    number = len(parts) + 1
                    parts.append({"PartNumber": number})
                    in_flight = asyncio.create_task(self._upload_part(key, upload_id, parts[-1], bytes(buffer)))
                    buffer = bytearray()
            if in_flight:
                await in_flight
            if buffer or not parts:
                parts.append({"PartNumber": len(parts) + 1})
                await self._upload_part(key, upload_id, parts[-1], bytes(buffer))
            await self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if in_flight:
                in_flight.cancel()
            with contextlib.suppress(Exception):
                await self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return total

    async def _upload_part(self, key: str, upload_id: str, part: dict[str, Any], body: bytes) -> None:
        result = await self._client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part["PartNumber"], Body=body
        )
        part["ETag"] = result["ETag"]

    async def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        await self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Upload a local file; `metadata` becomes the object's `x-amz-meta-*` headers (see `head`)."""
        extra: dict[str, Any] = {"ContentType": content_type}
        if metadata:
            extra["Metadata"] = metadata
        await self._client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    async def get_bytes(self, key: str) -> bytes:
        try:
            obj = await self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise _not_found(exc, key) from exc
        async with obj["Body"] as body:
            return await body.read()

    async def download(self, key: str, path: Path) -> None:
        try:
            await self._client.download_file(self.bucket, key, str(path))
        except ClientError as exc:
            raise _not_found(exc, key) from exc

    async def head(self, key: str) -> dict[str, Any] | None:
        try:
            return await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    async def open_range(self, key: str, range_header: str | None) -> dict[str, Any]:
        """get_object with an optional HTTP Range; the caller streams `Body`."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if range_header:
            kwargs["Range"] = range_header
        try:
            return await self._client.get_object(**kwargs)
        except ClientError as exc:
            raise _not_found(exc, key) from exc

    async def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            await self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    async def presign_get(self, key: str, expires_s: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return await self._presign_client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)

    async def presign_internal_get(self, key: str, expires_s: int = 6 * 3600) -> str:
        """A URL the workers themselves read from (ffmpeg/PyAV range requests), on the internal endpoint."""
        return await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )

    async def presign_put(self, key: str, expires_s: int) -> str:
        return await self._presign_client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def _not_found(exc: ClientError, key: str) -> Exception:
    return ObjectNotFound(key) if _is_missing(exc) else exc
