"""The streamed clips.zip writer: a standard reader opens what it writes, ZIP64 included, and the
Content-Length computed before streaming is exact."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from shiftclipper_api import routes_downloads
from shiftclipper_api.routes_downloads import Entry, ZipLayout, stream_zip


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def read(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


class _Store:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    async def open_range(self, key: str, _range: str | None) -> dict[str, Any]:
        return {"Body": _Body(self.objects[key])}


async def _zip(objects: dict[str, bytes]) -> tuple[bytes, int]:
    entries = [Entry(f"shift-{i + 1:02d}.mp4", key, len(data)) for i, (key, data) in enumerate(objects.items())]
    layout = ZipLayout(entries, datetime(2024, 10, 12, 18, 30, 4, tzinfo=UTC))
    out = b"".join([chunk async for chunk in stream_zip(layout, _Store(objects))])  # type: ignore[arg-type]
    return out, layout.total_size()


OBJECTS = {
    "jobs/a/clips/000.mp4": bytes(range(256)) * 3000,  # more than one read chunk
    "jobs/a/clips/001.mp4": b"",
    "jobs/a/clips/002.mp4": b"\x00\xff" * 777,
}


@pytest.mark.parametrize("limit", [0xFFFFFFFF, 1000], ids=["zip32", "zip64"])
async def test_archive_opens_and_is_byte_identical(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    # Lowering the limit makes every later entry, the central directory and the end record ZIP64.
    monkeypatch.setattr(routes_downloads, "ZIP32_LIMIT", limit)
    data, declared = await _zip(OBJECTS)
    assert len(data) == declared
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # every CRC checks out
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["shift-01.mp4", "shift-02.mp4", "shift-03.mp4"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert infos[0].date_time == (2024, 10, 12, 18, 30, 4)
        for info, expected in zip(infos, OBJECTS.values(), strict=True):
            assert archive.read(info) == expected
    assert (b"PK\x06\x06" in data) == (limit < 0xFFFFFFFF)  # the ZIP64 end record only when needed


async def test_a_clip_that_changes_size_aborts_the_stream() -> None:
    entries = [Entry("shift-01.mp4", "k", 10)]
    layout = ZipLayout(entries, datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(RuntimeError, match="changed size"):
        async for _ in stream_zip(layout, _Store({"k": b"12345"})):  # type: ignore[arg-type]
            pass


def test_download_name_is_safe() -> None:
    plain, utf8 = routes_downloads._download_name('Hawks "vs" Öster/U15')
    assert plain == "Hawks _vs_ Oster_U15-clips.zip" and utf8 == "Hawks _vs_ Öster_U15-clips.zip"
