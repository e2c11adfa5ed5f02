"""`GET /jobs/{id}/clips.zip`: every clip of a job in one ZIP, streamed straight from object storage.

The archive is written on the fly: entries are *stored* (video does not compress), each clip is copied
from S3 in fixed-size chunks and its CRC-32 follows it in a data descriptor, so memory stays constant
whatever the number or size of the clips. Sizes are known up front (HEAD), which gives an exact
Content-Length (browsers show real progress) and decides per entry whether ZIP64 records are needed.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import msgspec
import structlog
from litestar import Request, get
from litestar.response import Stream

from shiftclipper_common.storage import ObjectNotFound, ObjectStore
from shiftclipper_contracts import names
from shiftclipper_contracts.results import Results

from .auth import Principal
from .errors import ApiError

log = structlog.get_logger()
CHUNK = 256 * 1024
ZIP32_LIMIT = 0xFFFFFFFF
"""Sizes and offsets at or above this need ZIP64 records (a module constant so tests can lower it)."""
_MARK = 0xFFFFFFFF  # "see the ZIP64 extra field" in a 32-bit size or offset
_FLAGS = 0x0008 | 0x0800  # bit 3: CRC and sizes follow the data; bit 11: names are UTF-8
_results_decoder = msgspec.json.Decoder(Results)


@dataclass
class Entry:
    """One archive member: its name in the zip, the object it comes from and that object's size."""

    name: str
    key: str
    size: int
    offset: int = 0
    crc: int = 0

    def zip64(self) -> bool:
        return self.size >= ZIP32_LIMIT or self.offset >= ZIP32_LIMIT


def _dos_time(when: datetime) -> tuple[int, int]:
    when = max(when, datetime(1980, 1, 1, tzinfo=when.tzinfo))
    return (when.hour << 11) | (when.minute << 5) | (when.second // 2), (
        ((when.year - 1980) << 9) | (when.month << 5) | when.day
    )


class ZipLayout:
    """The byte layout of a stored, streamed ZIP. Header lengths do not depend on the CRC, so the same
    code sizes the archive before streaming (Content-Length) and writes it."""

    def __init__(self, entries: list[Entry], when: datetime) -> None:
        self.entries = entries
        self.time, self.date = _dos_time(when)
        offset = 0
        for entry in entries:
            entry.offset = offset
            offset += len(self.local_header(entry)) + entry.size + len(self.descriptor(entry))
        self.central_offset = offset

    def local_header(self, e: Entry) -> bytes:
        name = e.name.encode()
        # With bit 3 the CRC and sizes are zero here; a ZIP64 entry flags its sizes and carries the extra.
        extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) if e.zip64() else b""
        size = _MARK if e.zip64() else 0
        version = 45 if e.zip64() else 20
        head = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, version, _FLAGS, 0, self.time, self.date, 0, size, size, len(name), len(extra)
        )
        return head + name + extra

    def descriptor(self, e: Entry) -> bytes:
        if e.zip64():
            return struct.pack("<IIQQ", 0x08074B50, e.crc, e.size, e.size)
        return struct.pack("<IIII", 0x08074B50, e.crc, e.size, e.size)

    def central_header(self, e: Entry) -> bytes:
        name = e.name.encode()
        big_size, big_offset = e.size >= ZIP32_LIMIT, e.offset >= ZIP32_LIMIT
        fields = ([e.size, e.size] if big_size else []) + ([e.offset] if big_offset else [])
        extra = struct.pack(f"<HH{len(fields)}Q", 0x0001, 8 * len(fields), *fields) if fields else b""
        size = _MARK if big_size else e.size
        offset = _MARK if big_offset else e.offset
        version = 45 if e.zip64() else 20
        head = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, version | 0x0300, version, _FLAGS, 0, self.time, self.date, e.crc, size, size,
            len(name), len(extra), 0, 0, 0, 0o100644 << 16, offset,
        )  # fmt: skip
        return head + name + extra

    def trailer(self) -> bytes:
        """Central directory, then (when needed) the ZIP64 end record and locator, then the end record."""
        central = b"".join(self.central_header(e) for e in self.entries)
        count, start, length = len(self.entries), self.central_offset, len(central)
        out = central
        if count >= 0xFFFF or start >= ZIP32_LIMIT or length >= ZIP32_LIMIT:
            end64 = start + length
            out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, length, start)
            out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
            count, start, length = 0xFFFF, _MARK, _MARK
        return out + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, length, start, 0)

    def total_size(self) -> int:
        return self.central_offset + len(self.trailer())


async def stream_zip(layout: ZipLayout, store: ObjectStore) -> AsyncIterator[bytes]:
    """The archive's bytes, one clip chunk at a time."""
    for entry in layout.entries:
        yield layout.local_header(entry)
        crc, copied = 0, 0
        body = (await store.open_range(entry.key, None))["Body"]
        async with body:  # not `as`: aiobotocore's StreamingBody enters as the raw aiohttp response
            while chunk := await body.read(CHUNK):
                crc = zlib.crc32(chunk, crc)
                copied += len(chunk)
                yield chunk
        if copied != entry.size:  # replaced while we streamed: abort rather than send a corrupt archive
            raise RuntimeError(f"{entry.key} changed size during the download ({entry.size} -> {copied})")
        entry.crc = crc
        yield layout.descriptor(entry)
    yield layout.trailer()


def _download_name(job_name: str) -> tuple[str, str]:
    """An ASCII fallback and the UTF-8 file name for Content-Disposition."""
    base = re.sub(r"[\x00-\x1f\x7f/\\\"]+", "_", job_name).strip() or "shiftclipper"
    ascii_base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode() or "shiftclipper"
    return f"{ascii_base}-clips.zip", f"{base}-clips.zip"


async def _clip_entries(store: ObjectStore, results: Results) -> list[Entry]:
    prefix = names.job_prefix(results.job_id)
    shifts = [
        s
        for s in results.shifts
        if s.clip is not None and s.clip.key.startswith(prefix) and getattr(s, "decision", None) != "rejected"
    ]
    width = max(2, len(str(len(results.shifts))))
    entries: list[Entry] = []
    for shift in shifts:
        assert shift.clip is not None
        head = await store.head(shift.clip.key)
        if head is None:  # listed but gone (a re-export in between); the rest is still worth having
            log.warning("clip missing from storage", key=shift.clip.key)
            continue
        entries.append(Entry(f"shift-{shift.index + 1:0{width}d}.mp4", shift.clip.key, int(head["ContentLength"])))
    return entries


@get("/jobs/{job_id:str}/clips.zip")
async def clips_zip(request: Request, principal: Principal, job_id: str) -> Stream:
    """Every clip of the job in one ZIP (stored, ZIP64 when needed), streamed; rejected shifts are left out."""
    service = request.app.state.jobs
    job, _ = await service.visible(principal, job_id)  # 404 for another key's job
    store: ObjectStore = request.app.state.deps.store
    try:
        results = _results_decoder.decode(await store.get_bytes(names.results_key(job_id)))
    except ObjectNotFound:
        raise ApiError(404, "not_found", "no results yet") from None
    entries = await _clip_entries(store, results)
    if not entries:
        raise ApiError(404, "not_found", "this job has no clips")
    layout = ZipLayout(entries, service.status_of(job).updated_at)
    plain, utf8 = _download_name(job.name)
    headers: dict[str, Any] = {
        "Content-Length": str(layout.total_size()),
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(utf8, safe='')}",
        "Cache-Control": "no-store",
    }
    return Stream(stream_zip(layout, store), media_type="application/zip", headers=headers)


DOWNLOAD_ROUTES = [clips_zip]
