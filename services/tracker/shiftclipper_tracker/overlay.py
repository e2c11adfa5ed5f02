"""The debug overlay video: what the tracker saw and decided on every processed frame.

Boxes with track ids (the target thick and green with its identity confidence, tracks of the jersey
colour yellow, the rest grey), the jersey-number read where OCR ran on that frame, and a banner with the
video time and the shift state. Encoded as browser-playable H.264 (yuv420p, even size, `+faststart`) at
the processed frame rate, so it plays in step with the source video: a sampled frame left undetected
(`SpeedOptions.settled_stride`) keeps the previous picture on screen for its slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import av
import cv2
import numpy as np

from .core.identity import Decision
from .core.observations import TrackObs

TARGET_BGR = (60, 220, 60)
TEAM_BGR = (40, 220, 240)
OTHER_BGR = (160, 160, 160)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_overlay(
    image: np.ndarray,
    tracks: Sequence[TrackObs],
    target: Decision | None,
    team_ids: set[int],
    banner: str,
) -> np.ndarray:
    """A copy of the BGR frame with boxes, ids, reads and the banner drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(0.4, h / 1000)
    for obs in tracks:
        is_target = target is not None and obs.track_id == target.track_id
        colour = TARGET_BGR if is_target else TEAM_BGR if obs.track_id in team_ids else OTHER_BGR
        x1, y1, x2, y2 = (int(v * s) for v, s in zip(obs.box, (w, h, w, h), strict=True))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 4 if is_target else 1)
        label = f"{obs.track_id}"
        if is_target and target is not None:
            label += f" TARGET {target.confidence:.2f}"
        if obs.read is not None:
            label += f" read {obs.read.number!r} {obs.read.confidence:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), _FONT, scale, colour, 1 if not is_target else 2, cv2.LINE_AA)
    cv2.rectangle(out, (0, 0), (w, int(30 * scale + 10)), (0, 0, 0), -1)
    cv2.putText(out, banner, (8, int(24 * scale + 4)), _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class OverlayWriter:
    """Appends frames to an H.264 file; the size is fixed by the first frame (cropped to even)."""

    def __init__(self, path: str, fps: float) -> None:
        self._container = av.open(path, "w", options={"movflags": "+faststart"})
        self._fps = Fraction(fps).limit_denominator(1000)
        self._stream: av.VideoStream | None = None
        self._first_slot: int | None = None
        self._last_pts = -1
        self.frames = 0

    def add(self, bgr: np.ndarray, t: float | None = None) -> None:
        """Append a frame. `t` (video seconds) places it in its slot of the frame rate, counted from the first
        frame added, so skipped slots extend the previous frame; without `t` frames are back to back."""
        if self._stream is None:
            stream = self._container.add_stream("libx264", rate=self._fps)
            stream.width, stream.height = bgr.shape[1] // 2 * 2, bgr.shape[0] // 2 * 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "28"}
            self._stream = stream
        bgr = bgr[: self._stream.height, : self._stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        slot = self.frames if t is None else round(t * self._fps)
        if self._first_slot is None:
            self._first_slot = slot
        self._last_pts = max(slot - self._first_slot, self._last_pts + 1)
        frame.pts = self._last_pts
        frame.time_base = 1 / self._fps
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
        self._container.close()
