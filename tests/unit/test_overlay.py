"""The debug overlay: drawing marks the target apart from the others; the writer makes browser-ready H.264."""

from __future__ import annotations

import av
import numpy as np

from shiftclipper_tracker.core.identity import Decision
from shiftclipper_tracker.core.observations import NumberRead, TrackObs
from shiftclipper_tracker.overlay import OTHER_BGR, TARGET_BGR, OverlayWriter, draw_overlay


def _tracks() -> list[TrackObs]:
    return [
        TrackObs(track_id=1, box=(0.1, 0.3, 0.3, 0.9), det_conf=0.9, read=NumberRead("19", 0.95)),
        TrackObs(track_id=2, box=(0.6, 0.3, 0.8, 0.9), det_conf=0.8),
    ]


def test_draw_marks_target_and_others_and_keeps_the_input():
    image = np.zeros((360, 640, 3), np.uint8)
    out = draw_overlay(image, _tracks(), Decision(track_id=1, confidence=0.9), set(), "  1.00s  on_ice")
    assert not image.any(), "the decoded frame must not be drawn on in place"
    left_edge = out[200, 62:66]  # x = 0.1 * 640 = 64, thick target box
    right_edge = out[200, 384]  # x = 0.6 * 640, thin box of another track
    assert (left_edge == TARGET_BGR).all(axis=1).any()
    assert tuple(right_edge) == OTHER_BGR
    assert out[:20].any(), "banner missing"


def test_writer_makes_even_sized_h264_with_faststart(tmp_path):
    path = tmp_path / "overlay.mp4"
    writer = OverlayWriter(str(path), fps=10.0)
    for i in range(25):
        frame = np.full((361, 641, 3), i * 10, np.uint8)  # odd size: cropped to even for yuv420p
        writer.add(draw_overlay(frame, _tracks(), None, {2}, f"{i / 10:.1f}s"))
    writer.close()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.pix_fmt) == (640, 360, "yuv420p")
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 25
        assert abs(float(container.duration / av.time_base) - 2.5) < 0.15
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "moov atom must come first (+faststart)"


def test_writer_keeps_a_frame_on_screen_through_skipped_slots(tmp_path):
    path = tmp_path / "overlay.mp4"
    writer = OverlayWriter(str(path), fps=10.0)
    times = [5.0, 5.1, 5.3, 5.5, 5.6]  # a resumed job (starts at 5 s); 5.2 and 5.4 were not detected
    for i, t in enumerate(times):
        writer.add(np.full((360, 640, 3), 40 * i, np.uint8), t)
    writer.close()
    with av.open(str(path)) as container:
        starts = [float(f.pts * f.time_base) for f in container.decode(video=0)]
        assert abs(float(container.duration / av.time_base) - 0.7) < 0.05
    assert [round(s - starts[0], 2) for s in starts] == [0.0, 0.1, 0.3, 0.5, 0.6]
