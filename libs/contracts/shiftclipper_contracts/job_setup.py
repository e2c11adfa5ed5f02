"""The job setup: who to follow and how. Every default of the product lives here and nowhere else.

The API schema, the CLI help and the web UI's defaults are all derived from these Structs.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

import msgspec
import webcolors


class CameraMode(enum.StrEnum):
    """How the game was filmed; picks the tuning preset."""

    broadcast = "broadcast"
    """TV broadcast: the camera follows the puck, players often leave the frame while on ice."""
    broadcast_wide = "broadcast_wide"
    """Wide broadcast / LiveBarn-style: most of the rink in view, players small."""
    tactical = "tactical"
    """High, whole-rink view: players rarely leave the frame, numbers hard to read."""


class Mode(enum.StrEnum):
    shifts = "shifts"
    """On-ice intervals, bridging short off-camera gaps (`lost_timeout_s`)."""
    clips = "clips"
    """Only the windows where the player is actually visible and identified."""


class ClipMode(enum.StrEnum):
    smart = "smart"
    """Frame-accurate: stream-copy the body, re-encode only the partial GOP at each end."""
    copy = "copy"
    """Fastest: stream copy, cut points snap to the previous keyframe."""
    reencode = "reencode"
    """Uniform H.264 output, frame-accurate, slowest."""


Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
"""A coordinate normalised to the frame: 0 is left/top, 1 is right/bottom."""
Point = tuple[Unit, Unit]
Polygon = Annotated[list[Point], msgspec.Meta(min_length=3, max_length=64)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=600.0)]


class SeedClick(msgspec.Struct, forbid_unknown_fields=True):
    """A click on the target player at a moment: pins the identity of the track under it."""

    t: Annotated[float, msgspec.Meta(ge=0.0, description="Video time in seconds.")]
    x: Unit
    y: Unit


class Tuning(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Tracker tuning. Each camera preset fills every field; a setup may override any of them."""

    detect_fps: Annotated[float, msgspec.Meta(gt=0.0, le=60.0)]
    """Frames per second of video run through the person detector."""
    detect_imgsz: Annotated[int, msgspec.Meta(ge=160, le=1920, multiple_of=32)]
    """Detector input size (long side, pixels)."""
    det_conf: Annotated[float, msgspec.Meta(ge=0.01, le=0.99)]
    """Minimum person-detection confidence."""
    ocr_interval_s: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)]
    """Minimum seconds between two jersey-number reads of the same track."""
    ocr_min_conf: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    """Jersey-number reads below this confidence are ignored."""
    vote_threshold: Annotated[float, msgspec.Meta(gt=0.0, le=100.0)]
    """Confidence-weighted votes a track needs (net of votes for other numbers) to be the target."""
    color_max_distance: Annotated[float, msgspec.Meta(gt=0.0, le=200.0)]
    """Largest CIELAB distance between torso colour and jersey colour for a track to count (lightness and chroma
    losses weigh less: shading); a torso more than 45 degrees of hue away never counts, whatever the distance."""
    lost_timeout_s: Seconds
    """In `shifts` mode, how long the target may be unseen before its shift ends (at the last sighting)."""
    gap_merge_s: Seconds
    """Shifts separated by less than this are merged into one."""
    min_shift_s: Seconds
    """Shifts shorter than this are dropped; in `shifts` mode before merging, so a brief sighting cannot stretch a
    neighbouring shift through `gap_merge_s`."""
    min_shift_confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    """Shifts whose confidence (the identity's, averaged over the shift, 0.5 = votes just at `vote_threshold`) stays
    under this are dropped: the identity never rose clearly above a bare lock; in `shifts` mode, like `min_shift_s`,
    before merging. 0 keeps every shift."""


PRESETS: dict[CameraMode, Tuning] = {
    CameraMode.broadcast: Tuning(
        detect_fps=10.0,
        detect_imgsz=640,
        det_conf=0.25,
        ocr_interval_s=0.3,
        ocr_min_conf=0.5,
        vote_threshold=1.2,
        color_max_distance=35.0,
        lost_timeout_s=6.0,
        gap_merge_s=12.0,
        min_shift_s=2.0,
        min_shift_confidence=0.6,
    ),
    CameraMode.broadcast_wide: Tuning(
        detect_fps=8.0,
        detect_imgsz=960,
        det_conf=0.2,
        ocr_interval_s=0.5,
        ocr_min_conf=0.5,
        # Small skaters fragment into 2-s tracks read a few times each, weakly: at 1.5 votes and a 0.6 floor the
        # 5-minute wide-view games lost a quarter to a half of their shifts (docs/benchmarks.md, session 19).
        vote_threshold=1.0,
        color_max_distance=35.0,
        lost_timeout_s=4.0,
        gap_merge_s=10.0,
        min_shift_s=3.0,
        min_shift_confidence=0.5,
    ),
    CameraMode.tactical: Tuning(
        detect_fps=6.0,
        detect_imgsz=1280,
        det_conf=0.15,
        ocr_interval_s=1.0,
        ocr_min_conf=0.4,
        # As `broadcast_wide`, and more so: at 2.0 votes and a 0.6 floor a 2-minute tactical game found 0 of 4 shifts.
        vote_threshold=1.0,
        color_max_distance=38.0,
        lost_timeout_s=3.0,
        gap_merge_s=8.0,
        min_shift_s=5.0,
        min_shift_confidence=0.5,
    ),
}
"""Tuning defaults per camera preset."""

TUNING_FIELDS = Tuning.__struct_fields__


def normalize_color(value: str, field: str) -> str:
    """`#rgb`, `#rrggbb` or a CSS colour name -> `#rrggbb` (lower case)."""
    text = value.strip().lower()
    try:
        return webcolors.normalize_hex(text) if text.startswith("#") else webcolors.name_to_hex(text)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a #rrggbb colour or a CSS colour name") from None


class JobSetup(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The target player and how to process the video. Canonical field names; see SETUP_ALIASES."""

    jersey_number: Annotated[
        str,
        msgspec.Meta(pattern=r"^(0|00|[1-9][0-9]?)$", description='Jersey number, "0"-"99"; "00" allowed.'),
    ]
    jersey_color: Annotated[str, msgspec.Meta(description="Team jersey colour: #rrggbb or a CSS name.")]
    opponent_color: str | None = None
    """Opponent jersey colour; when given, tracks closer to it than to `jersey_color` are rejected."""
    camera_mode: CameraMode = CameraMode.broadcast
    mode: Mode = Mode.shifts
    seed_clicks: Annotated[list[SeedClick], msgspec.Meta(max_length=100)] = []
    rink_polygon: Polygon | None = None
    """Where the ice is (normalised); detections outside are ignored. None = the whole frame."""
    bench_polygons: Annotated[list[Polygon], msgspec.Meta(max_length=4)] = []
    """Benches / penalty boxes (normalised); the target standing inside one is off the ice."""
    pre_roll_s: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] = 2.0
    """Seconds of video kept before each shift in its clip."""
    post_roll_s: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] = 2.0
    """Seconds of video kept after each shift in its clip."""
    clip_mode: ClipMode = ClipMode.smart
    reel: bool = True
    """Also build one reel of all clips."""
    reel_titles: bool = False
    """Put a short title card (shift number, game time, duration) before each clip in the reel; the
    reel is then re-encoded instead of stream-copied (slower)."""
    debug_overlay: bool = False
    """Also render an overlay video (boxes, track ids, reads, identity state)."""
    tuning: dict[str, int | float] = {}
    """Overrides of the camera preset's `Tuning` fields, e.g. `{"lost_timeout_s": 4}`."""

    def __post_init__(self) -> None:
        self.jersey_color = normalize_color(self.jersey_color, "jersey_color")
        if self.opponent_color is not None:
            self.opponent_color = normalize_color(self.opponent_color, "opponent_color")
        unknown = sorted(set(self.tuning) - set(TUNING_FIELDS))
        if unknown:
            raise ValueError(f"tuning: unknown field(s) {', '.join(unknown)}")
        self.effective_tuning()  # validates the overrides' ranges now, not at run time

    def effective_tuning(self) -> Tuning:
        """The camera preset with this setup's overrides applied and validated."""
        merged = msgspec.structs.asdict(PRESETS[self.camera_mode]) | self.tuning
        try:
            return msgspec.convert(merged, Tuning)
        except msgspec.ValidationError as exc:
            text = str(exc)
            where = text.rsplit("at `$.", 1)[1].rstrip("`") if "at `$." in text else ""
            raise ValueError(f"tuning.{where}: {text.split(' - at ')[0]}" if where else f"tuning: {text}") from None


SETUP_ALIASES: dict[str, str] = {
    "player_number": "jersey_number",
    "number": "jersey_number",
    "player_color": "jersey_color",
    "team_color": "jersey_color",
    "color": "jersey_color",
    "tracking_mode": "mode",
    "camera": "camera_mode",
}
"""ShiftClipper v1 names accepted on input and mapped to the canonical ones."""


class SetupError(ValueError):
    """An invalid setup; `field` names the offending field path when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def setup_from_obj(obj: Any) -> JobSetup:
    """Validate a decoded JSON object into a JobSetup, accepting v1 aliases. Raises SetupError."""
    if not isinstance(obj, dict):
        raise SetupError("setup must be a JSON object", "$")
    renamed: dict[str, Any] = {}
    for key, value in obj.items():
        canonical = SETUP_ALIASES.get(str(key), str(key))
        if canonical in renamed:
            raise SetupError(f"field given twice (as {key!r} and its alias)", f"$.{canonical}")
        renamed[canonical] = value
    if isinstance(renamed.get("jersey_number"), int) and not isinstance(renamed["jersey_number"], bool):
        renamed["jersey_number"] = str(renamed["jersey_number"])
    try:
        return msgspec.convert(renamed, JobSetup)
    except msgspec.ValidationError as exc:
        raise SetupError(str(exc), _error_field(str(exc))) from None


def _error_field(message: str) -> str | None:
    """The JSON path of the offending field, from msgspec's message ('... - at `$.a[0]`'),
    an unknown-field message ('unknown field `x`') or a post-init message ('a.b: ...')."""
    path = message.rsplit("at `", 1)[1].rstrip("`") if " - at `" in message else "$"
    unknown = re.search(r"unknown field `([^`]*)`", message)
    if unknown:
        return f"{path}.{unknown.group(1)}"
    head = message.split(":", 1)[0]
    if path == "$" and re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", head):
        return f"$.{head}"
    return path
