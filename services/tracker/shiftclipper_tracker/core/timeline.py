"""Compact decision records: identity and shift state changes, never per-frame dumps."""

from __future__ import annotations

import msgspec


class TimelineEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    t: float
    kind: str
    """locked, unlocked, pinned, relinked, lost, shift_start, shift_end, segment, dropped."""
    track_id: int | None = None
    confidence: float | None = None
    note: str = ""
