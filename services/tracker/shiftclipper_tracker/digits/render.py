"""Synthetic whole-player crops with a known jersey number (training data for the digit CNN).

A crop is built like the tracker sees one from behind: ice/boards background, a jersey back (number,
outline trims, name bar, stripes) warped by cloth folds and a perspective turn, sleeves and arms that
may cover part of it, helmet, pants, legs; then the camera: rotation, blur, low resolution, JPEG,
noise, and the burned-in coloured box overlays the labelled footage carries. Everything is drawn from
one `numpy.random.Generator`, so a seed gives the same crop on every machine.
"""

from __future__ import annotations

import cv2
import numpy as np

from .glyphs import GLYPH_PX, number_layers

CROP_H = 192
"""Crops come out at the evaluation crops' height; widths vary like a skater's box does."""
DRAW_H = 96
"""Crops are drawn at half that (4x fewer pixels to push) and upscaled, as broadcast box crops are."""
Colour = tuple[int, int, int]


def random_number(rng: np.random.Generator, none_rate: float = 0.08) -> str:
    """A label: "" (no number visible) at `none_rate`, else one or two digits, half each."""
    if rng.random() < none_rate:
        return ""
    if rng.random() < 0.5:
        return str(int(rng.integers(10)))
    return f"{int(rng.integers(100)):02d}"


def _colour(rng: np.random.Generator) -> Colour:
    """Jersey palette: saturated team colours, whites, darks, greys (BGR)."""
    kind = rng.random()
    if kind < 0.25:
        v = int(rng.integers(200, 256))
        return (v, v - int(rng.integers(0, 12)), v - int(rng.integers(0, 20)))
    if kind < 0.4:
        v = int(rng.integers(10, 70))
        return (v + int(rng.integers(0, 30)), v, v)
    hsv = np.array([[[rng.integers(0, 180), rng.integers(120, 256), rng.integers(90, 256)]]], np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return (int(b), int(g), int(r))


def _contrasting(rng: np.random.Generator, base: Colour, min_diff: float = 70.0) -> Colour:
    """A colour whose grey level differs from `base` enough to read (numbers are made to be read)."""
    grey = 0.114 * base[0] + 0.587 * base[1] + 0.299 * base[2]
    for _ in range(20):
        c = _colour(rng)
        if abs(0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2] - grey) >= min_diff:
            return c
    return (255, 255, 255) if grey < 128 else (20, 20, 40)


def _paint(img: np.ndarray, mask: np.ndarray, colour: Colour) -> None:
    """Alpha-blend a flat colour into `img` in place (one temporary, not four)."""
    img += (np.array(colour, np.float32) - img) * mask[..., None]


def jersey_back(number: str, rng: np.random.Generator) -> np.ndarray:
    """Flat float32 BGR jersey back (120 x 100 texture): base, stripes, name bar, number with trims."""
    tex_h, tex_w = 120, 100
    base = _colour(rng)
    ink = _contrasting(rng, base, 100.0)
    tex = np.empty((tex_h, tex_w, 3), np.float32)
    tex[:] = base
    if rng.random() < 0.5:  # hem stripes / yoke
        trim = _colour(rng)
        y = int(rng.integers(85, 112))
        tex[y : y + int(rng.integers(3, 12))] = trim
        if rng.random() < 0.4:
            tex[: int(rng.integers(5, 20))] = trim
    top = int(rng.uniform(27, 47))
    if rng.random() < 0.7:
        _name_bar(tex, rng, ink, top)
    if number:
        _place_number(tex, number, rng, base, ink, top)
    return tex


def _name_bar(tex: np.ndarray, rng: np.random.Generator, ink: Colour, top: int) -> None:
    """Player-name letters above the number: a distractor the model must learn to ignore."""
    letters = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(4, 10))))
    scale = rng.uniform(0.25, 0.4)
    thick = int(rng.integers(1, 3))
    (tw, th), _ = cv2.getTextSize(letters, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = int((tex.shape[1] - tw) / 2 + rng.normal(0, 4))
    y = max(th + 2, top - int(rng.integers(3, 8)))
    mask = np.zeros(tex.shape[:2], np.uint8)  # putText draws on uint8 only
    cv2.putText(mask, letters, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
    band = slice(max(0, y - th - 2), y + 4)
    _paint(tex[band], mask[band].astype(np.float32) / 255.0, ink)


def _place_number(tex: np.ndarray, number: str, rng: np.random.Generator, base: Colour, ink: Colour, top: int) -> None:
    fill, ring1, ring2 = number_layers(number, rng)
    height = rng.uniform(55, 80)  # glyph height on the 120-px back: numbers are big
    scale = height / GLYPH_PX  # the masks carry their outline margin on top of GLYPH_PX
    size = (max(4, round(fill.shape[1] * scale)), max(4, round(fill.shape[0] * scale)))
    if size[0] > tex.shape[1] - 4:
        size = (tex.shape[1] - 4, size[1])
    layers = [cv2.resize(m, size, interpolation=cv2.INTER_AREA) for m in (fill, ring1, ring2)]
    x = int((tex.shape[1] - size[0]) / 2 + rng.normal(0, 3))
    x = int(np.clip(x, 0, tex.shape[1] - size[0]))
    y = int(np.clip(top, 0, tex.shape[0] - size[1]))
    region = tex[y : y + size[1], x : x + size[0]]
    if layers[2].any():
        _paint(region, layers[2], _contrasting(rng, ink, 30))
    if layers[1].any():
        _paint(region, layers[1], base if rng.random() < 0.3 else _contrasting(rng, ink, 40))
    _paint(region, layers[0], ink)


def folds(tex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cloth folds: a smooth random displacement field plus matching shading bands.

    The fields are computed on a 1/4-resolution grid and upsampled (they are smooth; 10x cheaper)."""
    h, w = tex.shape[:2]
    gh, gw = h // 4, w // 4
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32) * 4
    dx = np.zeros((gh, gw), np.float32)
    dy = np.zeros((gh, gw), np.float32)
    shade = np.ones((gh, gw), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        ang = rng.uniform(0, np.pi)
        freq = rng.uniform(0.005, 0.02)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * freq * 2 * np.pi + phase)
        amp = rng.uniform(0, 3)
        dx += amp * wave * np.sin(ang)
        dy += amp * wave * np.cos(ang)
        shade *= 1 + rng.uniform(0, 0.12) * wave
    full_y, full_x = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = full_x + cv2.resize(dx, (w, h))
    map_y = full_y + cv2.resize(dy, (w, h))
    warped = cv2.remap(tex, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return warped * cv2.resize(shade, (w, h))[..., None]


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Ice (bright, bluish), sometimes boards/glass bands and blobs of other players."""
    v = rng.uniform(190, 250)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (v + rng.uniform(0, 10), v - rng.uniform(0, 8), v - rng.uniform(0, 15))
    img *= np.linspace(rng.uniform(0.85, 1.05), rng.uniform(0.95, 1.1), h, dtype=np.float32)[:, None, None]
    if rng.random() < 0.4:
        y = int(rng.integers(0, h // 2))
        img[y : y + int(rng.integers(2, 15))] = _colour(rng)
    for _ in range(int(rng.integers(0, 3))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(3, w // 2)), int(rng.integers(5, h // 3)))
        cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, _colour(rng), -1)
    return img


def _torso_quad(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Where the jersey back lands: turned (one side narrower), leaning (top shifted), bent (lower)."""
    cx = w * (0.5 + rng.normal(0, 0.07))
    half = w * rng.uniform(0.22, 0.45)
    top = h * rng.uniform(0.07, 0.2)
    bottom = top + h * rng.uniform(0.3, 0.45)
    lean = half * rng.normal(0, 0.25)
    turn = rng.uniform(-0.35, 0.35)  # >0: right side recedes
    left, right = half * (1 + min(0.0, turn)), half * (1 - max(0.0, turn))
    y_tilt = h * rng.normal(0, 0.02)
    return np.array(
        [
            [cx - left + lean, top - y_tilt],
            [cx + right + lean, top + y_tilt],
            [cx + right * 0.9, bottom + y_tilt],
            [cx - left * 0.9, bottom - y_tilt],
        ],
        np.float32,
    )


def _body(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray, jersey: Colour) -> None:
    """Helmet, pants, legs, sleeves: the parts around the jersey back (drawn under it except sleeves)."""
    h = img.shape[0]
    top_mid = (quad[0] + quad[1]) / 2
    bot_l, bot_r = quad[3], quad[2]
    dark = _colour(rng) if rng.random() < 0.3 else (30, 30, 30)
    helmet_r = int(max(3, (quad[1][0] - quad[0][0]) * rng.uniform(0.22, 0.32)))
    cv2.circle(img, (int(top_mid[0]), int(top_mid[1] - helmet_r * 0.6)), helmet_r, dark, -1)
    pants_bottom = bot_l[1] + h * rng.uniform(0.12, 0.2)
    pants = np.array([bot_l, bot_r, [bot_r[0], pants_bottom], [bot_l[0], pants_bottom]], np.int32)
    cv2.fillConvexPoly(img, pants, dark)
    for fx in (0.25, 0.75):
        x = int(bot_l[0] + (bot_r[0] - bot_l[0]) * fx + rng.normal(0, 3))
        leg_w = max(2, int((bot_r[0] - bot_l[0]) * 0.2))
        cv2.line(img, (x, int(pants_bottom)), (x + int(rng.normal(0, 6)), h - 2), jersey, leg_w)


def _sleeves(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray, jersey: Colour) -> None:
    """Arms hang beside the torso or swing across it (partial occlusion of the number)."""
    width = max(4, int((quad[1][0] - quad[0][0]) * rng.uniform(0.18, 0.3)))
    shade = tuple(int(c * rng.uniform(0.7, 1.0)) for c in jersey)
    for shoulder, side in ((quad[0], -1), (quad[1], 1)):
        reach = rng.uniform(-0.2, 1.0)  # <0: the arm crosses in front of the back
        end = (int(shoulder[0] + side * width * reach), int(shoulder[1] + img.shape[0] * rng.uniform(0.2, 0.35)))
        start = (int(shoulder[0] + side * width * 0.3), int(shoulder[1] + width * 0.5))
        cv2.line(img, start, end, shade, width)
        cv2.circle(img, end, int(width * 0.6), (25, 25, 25), -1)  # glove


def _paste_back(img: np.ndarray, tex: np.ndarray, quad: np.ndarray) -> None:
    """Warp the flat jersey back onto the torso quad (perspective) with rounded shoulders."""
    th, tw = tex.shape[:2]
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    shape = np.zeros((th, tw), np.float32)
    cv2.rectangle(shape, (0, 12), (tw, th), 1.0, -1)
    cv2.ellipse(shape, (tw // 2, 15), (tw // 2, 15), 0, 180, 360, 1.0, -1)
    size = (img.shape[1], img.shape[0])
    warped = cv2.warpPerspective(tex, m, size, flags=cv2.INTER_AREA if tw > size[0] else cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(shape, m, size)[..., None]
    img[:] = img * (1 - alpha) + warped * alpha


def _overlay_box(img: np.ndarray, rng: np.random.Generator, quad: np.ndarray) -> None:
    """Burned-in annotation boxes (orange in the labelled footage; other colours too), near the number."""
    colour = (0, int(rng.integers(90, 170)), 255) if rng.random() < 0.7 else _colour(rng)
    cx, cy = quad.mean(axis=0) + rng.normal(0, 8, 2)
    hw, hh = rng.uniform(3, 20), rng.uniform(3, 20)
    box = cv2.boxPoints(((float(cx), float(cy - 5)), (2 * hw, 2 * hh), float(rng.normal(0, 15))))
    cv2.polylines(img, [np.asarray(box, np.int32)], True, colour, int(rng.integers(1, 3)))


def _camera(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotation, blur, low resolution, noise and JPEG: what a broadcast box crop has been through."""
    h, w = img.shape[:2]
    m = np.array(cv2.getRotationMatrix2D((w / 2, h * 0.35), rng.normal(0, 6), rng.uniform(0.9, 1.1)), np.float64)
    m[:, 2] += rng.normal(0, [w * 0.04, h * 0.03])
    img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:  # motion blur
        k = int(rng.integers(2, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        img = cv2.filter2D(img, -1, cv2.warpAffine(kernel, rot, (k, k)))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.2, 0.8))
    small = rng.uniform(0.55, 1.0)
    tiny = cv2.resize(img, (max(8, int(w * small)), max(16, int(h * small))), interpolation=cv2.INTER_AREA)
    out_w = round(w * CROP_H / h)
    img = cv2.resize(tiny, (out_w, CROP_H), interpolation=cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC)
    noise = rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(0, 4)
    img = img * rng.uniform(0.7, 1.2) + rng.normal(0, 15) + noise
    out = np.clip(img, 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
    decoded = cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else None
    return out if decoded is None else np.asarray(decoded)


def render_crop(number: str, rng: np.random.Generator) -> np.ndarray:
    """A CROP_H-tall BGR uint8 whole-player crop, seen from behind, wearing `number` ("" = none shown)."""
    w = int(DRAW_H * rng.uniform(0.45, 0.9))
    img = _background(rng, DRAW_H, w)
    quad = _torso_quad(rng, DRAW_H, w)
    tex = folds(jersey_back(number, rng), rng)
    b, g, r = (int(c) for c in np.clip(tex[5, 5], 0, 255))
    jersey: Colour = (b, g, r)
    _body(img, rng, quad, jersey)
    _paste_back(img, tex, quad)
    _sleeves(img, rng, quad, jersey)
    if rng.random() < 0.2:  # stick or another player's limb across the frame
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, DRAW_H)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, DRAW_H)))
        cv2.line(img, p0, p1, _colour(rng), int(rng.integers(1, 4)))
    if rng.random() < 0.6:
        _overlay_box(img, rng, quad)
    return _camera(img, rng)


def render_sample(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One (crop, label) pair; the label is "" when no number is shown."""
    number = random_number(rng)
    return render_crop(number, rng), number
