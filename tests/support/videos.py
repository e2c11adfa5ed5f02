"""Small synthetic videos made in the tests themselves (never stored in the repository)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_video(path: Path, seconds: float = 2.0, fps: int = 25, size: tuple[int, int] = (320, 240)) -> Path:
    """An H.264 mp4 whose frames differ (a moving bar), `seconds` long."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(fps), "preset": "ultrafast"}
        for i in range(int(seconds * fps)):
            image = np.full((height, width, 3), 40, dtype=np.uint8)
            x = (i * 7) % (width - 20)
            image[:, x : x + 20] = (200, 30, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
