"""The web UI end to end in a real browser: key, upload, eyedropper, rink outline, run, live shifts,
clip, debug overlay, zip and single downloads.

Screenshots of every step go to a temp folder, or to docs/screenshots/ (the README shows them) with
SHIFTCLIPPER_UPDATE_SCREENSHOTS=1. #19 (red, Chicago) is on the ice for the whole practice clip; at 5 s he
is on the right of the portrait frame, jersey at about y = 0.3.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import KEY, click_frame, open_job_id, saved_setup, shot, watch_console
from tests.conftest import PRACTICE_CLIP, TFLITE_MODEL, needs_shared

# The reddest 5x5 patch (the eyedropper's own averaging) in a region of the paused frame, normalised.
FIND_RED = """([x0, x1, y0, y1]) => {
  const c = document.querySelector('#frame');
  const ctx = c.getContext('2d');
  const best = {score: -1, x: 0, y: 0};
  for (let y = Math.round(y0 * c.height); y < y1 * c.height; y += 4) {
    for (let x = Math.round(x0 * c.width); x < x1 * c.width; x += 4) {
      const d = ctx.getImageData(x - 2, y - 2, 5, 5).data;
      let r = 0, g = 0, b = 0;
      for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
      const score = r - Math.max(g, b);
      if (score > best.score) Object.assign(best, {score, x: x / c.width, y: y / c.height});
    }
  }
  return best;
}"""


@pytest.mark.slow
@pytest.mark.timeout(240)
@needs_shared(PRACTICE_CLIP, TFLITE_MODEL)
def test_ui_end_to_end(ui_stack: str, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems = watch_console(page)

    # 1. API key, remembered across a reload.
    page.goto(ui_stack + "/")
    page.fill("#api-key", KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#jobs-section:not([hidden])")
    page.reload()
    assert page.input_value("#api-key") == KEY
    page.wait_for_selector("#jobs-section:not([hidden])")
    shot(page, "01-key-and-jobs")

    # 2. Create a job and upload the video with a progress bar.
    page.set_input_files("#video-file", str(PRACTICE_CLIP))
    assert page.input_value("#job-name") == PRACTICE_CLIP.stem
    page.click("#upload-btn")
    page.wait_for_selector("#setup-form:not([hidden])")
    assert page.text_content("#upload-text") == "Upload complete."
    assert page.eval_on_selector("#upload-bar", "bar => bar.value") == 1
    assert "uploaded" in page.text_content("#job-status")
    assert page.locator("#jobs-list .job-name", has_text=PRACTICE_CLIP.stem).count() == 1

    # 3. Setup: defaults come from the contracts; pause at 5 s, pick the jersey colour, mark the player.
    assert page.input_value("#camera_mode") == "broadcast"
    assert page.get_attribute("#tuning-lost_timeout_s", "placeholder") == "6"
    page.select_option("#camera_mode", "tactical")
    assert page.get_attribute("#tuning-lost_timeout_s", "placeholder") == "3"
    page.select_option("#camera_mode", "broadcast")
    page.wait_for_function("document.querySelector('#preview').readyState >= 2")
    page.eval_on_selector("#seek", "s => { s.value = '5'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_function(
        "(v => Math.abs(v.currentTime - 5) < 0.05 && !v.seeking)(document.querySelector('#preview'))"
    )
    page.wait_for_selector("#frame:not([hidden])")
    # The eyedropper from the keyboard: focus the frame, move the crosshair, Enter.
    page.check("input[name=tool][value=opponent_color]")
    page.focus("#frame")
    for _ in range(7):
        page.keyboard.press("Shift+ArrowDown")  # from the centre to y = 0.85: the ice, whitish
    page.keyboard.press("Enter")
    ice = page.input_value("#opponent_color")
    assert re.fullmatch(r"#[0-9a-f]{6}", ice) and min(int(ice[i : i + 2], 16) for i in (1, 3, 5)) > 150, ice
    page.fill("#opponent_color", "")  # the practice has no opponent
    red = page.evaluate(FIND_RED, [0.6, 0.98, 0.22, 0.45])
    assert red["score"] > 60, red
    page.check("input[name=tool][value=jersey_color]")
    click_frame(page, red["x"], red["y"])
    picked = page.input_value("#jersey_color")
    assert re.fullmatch(r"#[0-9a-f]{6}", picked), picked
    r, g, b = (int(picked[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 110 and r > g + 50 and r > b + 50, picked  # reddish
    assert page.input_value("#jersey_color-swatch") == picked
    page.check("input[name=tool][value=seed]")
    click_frame(page, red["x"], red["y"])
    assert page.locator("#seed-list li").count() == 1
    assert "0:05.0" in page.text_content("#seed-list")
    # The rink outline: the whole frame but its very edges (the tracker then ignores the margins).
    page.check("input[name=tool][value=rink]")
    rink = [(0.01, 0.01), (0.99, 0.01), (0.99, 0.99), (0.01, 0.99)]
    for x, y in rink:
        click_frame(page, x, y)
    assert "4 points" in page.text_content("[data-poly=rink]")

    # 4. Inline validation from the API's error `field`, then the real number.
    page.fill("#jersey_number", "7x")
    page.click("#run-btn")
    page.wait_for_selector("#jersey_number-err:not(:empty)")
    assert page.get_attribute("#jersey_number", "aria-invalid") == "true"
    shot(page, "02-setup-validation")
    page.fill("#jersey_number", "19")
    page.locator("#advanced summary").click()
    page.check("#debug_overlay")  # default off (from the contracts); on here to see the overlay
    shot(page, "03-setup", full=True)
    page.locator("#advanced summary").click()

    # 5. Run: live progress over SSE, the shift appears on the timeline.
    page.click("#run-btn")
    page.wait_for_selector("#progress-section:not([hidden])")
    assert saved_setup(page, open_job_id(page))["rink_polygon"] == [list(p) for p in rink]
    page.wait_for_function("document.querySelector('#job-bar').value > 0.05", timeout=120_000)
    assert "%" in page.text_content("#job-progress-text")
    shot(page, "04-progress")
    page.wait_for_selector("#results-section:not([hidden])", timeout=180_000)
    assert page.locator(".timeline .shift").count() == 1
    assert "1 shift" in page.text_content("#summary")
    assert page.locator("#shift-table tbody tr").count() == 1
    assert "done" in page.text_content("#job-status")
    progress_text = page.text_content("#job-progress-text") or ""
    assert not progress_text or "100%" in progress_text

    # 6. Play the shift's clip from the timeline.
    page.locator(".timeline .shift").first.click()
    page.wait_for_function("document.querySelector('#clip-player').readyState >= 2", timeout=30_000)
    assert "/artifacts/clips/000.mp4?api_key=" in page.get_attribute("#clip-player", "src")
    page.wait_for_function("document.querySelector('#reel-player').readyState >= 1", timeout=30_000)
    # The debug overlay the tracker rendered, and its decision timeline.
    page.wait_for_selector("#debug-figure:not([hidden])")
    page.wait_for_function("document.querySelector('#debug-player').readyState >= 1", timeout=30_000)
    assert "/artifacts/debug/timeline.json" in page.get_attribute("#debug-timeline", "href")
    shot(page, "05-results", full=True)

    # 7. Download the clip.
    with page.expect_download() as info:
        page.locator("#shift-table a.download").first.click()
    download = info.value
    assert download.failure() is None
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    assert download.suggested_filename == "shift-1.mp4"
    assert target.stat().st_size > 10_000
    with page.expect_download() as info:
        page.click("#zip-download")
    zipped = tmp_path / info.value.suggested_filename
    info.value.save_as(str(zipped))
    with zipfile.ZipFile(zipped) as archive:
        assert archive.namelist() == ["shift-01.mp4"] and archive.read("shift-01.mp4") == target.read_bytes()

    # 8. Phone width: the same page, still usable.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#timeline-section").scroll_into_view_if_needed()
    page.evaluate("document.querySelector('#timeline-section').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    too_wide = page.evaluate(
        """[...document.querySelectorAll('body *')]
        .filter(e => e.offsetParent && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), too_wide
    shot(page, "06-phone")

    # The one expected console error is the browser logging the deliberate 400 of step 4.
    unexpected = [p for p in problems if not ("status of 400" in p and p.endswith("/setup"))]
    assert not unexpected, unexpected
    context.close()


def test_ui_defaults_come_from_the_contracts() -> None:
    """/ui/defaults is derived from job_setup.py: presets, defaults, enum choices, docs and bounds."""
    import msgspec

    from shiftclipper_api.ui import defaults
    from shiftclipper_contracts.job_setup import PRESETS, CameraMode, JobSetup

    out = defaults()
    assert out["presets"] == {mode.value: msgspec.to_builtins(t) for mode, t in PRESETS.items()}
    probe = JobSetup(jersey_number="9", jersey_color="red")
    for name in ("camera_mode", "mode", "pre_roll_s", "post_roll_s", "clip_mode", "reel", "debug_overlay"):
        assert out["setup"][name]["default"] == msgspec.to_builtins(getattr(probe, name)), name
    assert out["setup"]["jersey_number"]["required"] and out["setup"]["jersey_number"]["doc"]
    assert [c["value"] for c in out["choices"]["camera_mode"]] == [m.value for m in CameraMode]
    assert all(c["doc"] for c in out["choices"]["camera_mode"])
    assert out["tuning"]["detect_imgsz"] == {
        "doc": "Detector input size (long side, pixels).", "min": 160, "max": 1920, "type": "int", "step": 32,
    }  # fmt: skip
    assert out["setup"]["pre_roll_s"]["min"] == 0.0 and out["setup"]["pre_roll_s"]["max"] == 30.0
    msgspec.json.encode(out)  # served as JSON
