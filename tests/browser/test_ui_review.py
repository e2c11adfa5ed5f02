"""The web UI's editing and results features in a real browser, on a job the fake tracker finishes (no
detector, so it runs in seconds): restartable upload, rink/bench outlines with the API's inline error,
the clips zip, the debug overlay and shift review (accept/reject/trim when the gateway has it).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shiftclipper_common.bus import connect, publish_event
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts import events as ev
from shiftclipper_contracts import names
from shiftclipper_contracts.results import Target
from tests.browser.helpers import (
    KEY,
    click_frame,
    drag_frame,
    enter_key,
    open_job_id,
    saved_setup,
    shot,
    watch_console,
)
from tests.support.fake_tracker import SEGMENTS, export_spec, publish_segments
from tests.support.videos import make_video

REVIEW_PATH = "/jobs/{job_id}/shifts/{index}"


async def finish_job(infra: Any, job_id: str, video_info: dict[str, Any], overlay: bytes) -> None:
    """Act as the tracker: two shifts, a decision timeline and an overlay video."""
    store = await ObjectStore(infra.config).start()
    overlay_key, timeline_key = names.debug_key(job_id, "overlay.mp4"), names.debug_key(job_id, "timeline.json")
    await store.put_bytes(overlay_key, overlay, "video/mp4")
    await store.put_bytes(timeline_key, b'{"events": []}', "application/json")
    await store.close()
    nc, js = await connect(infra.config, "fake-tracker")
    try:
        spec = export_spec(job_id, video_info)
        await publish_event(js, ev.TrackingStarted(job_id=job_id, attempt=1, worker="test"), "1")
        await publish_segments(js, job_id, spec)
        target = Target(number="19", color="#ff0000", camera_mode="broadcast")
        done = ev.TrackingDone(
            job_id=job_id, attempt=1, segments=SEGMENTS, stats=ev.TrackingStats(), export=spec, target=target,
            mode="shifts", timeline_key=timeline_key, overlay_key=overlay_key,
        )  # fmt: skip
        await publish_event(js, done, "")
    finally:
        await nc.close()


def has_review(base_url: str) -> bool:
    schema = httpx.get(f"{base_url}/schema/openapi.json", timeout=10).json()
    return any(path.endswith("/shifts/{index}") for path in schema.get("paths", {}))


@pytest.mark.timeout(240)
def test_outlines_retry_zip_debug_and_review(infra: Any, fake_stack: str, browser: Any, tmp_path: Path) -> None:
    video = make_video(tmp_path / "game.mp4", seconds=12.0, fps=25, size=(640, 360))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems = watch_console(page)
    enter_key(page, fake_stack)

    # 1. Upload: the first attempt dies on the network; Retry sends it again into the same job.
    page.route("**/video?*", lambda route: route.abort())
    page.set_input_files("#video-file", str(video))
    page.click("#upload-btn")
    page.wait_for_selector("#upload-retry:not([hidden])")
    assert "Upload failed" in page.text_content("#upload-text")
    assert page.is_enabled("#upload-btn")
    page.unroute("**/video?*")
    page.click("#upload-retry")
    page.wait_for_selector("#setup-form:not([hidden])")
    assert page.text_content("#upload-text") == "Upload complete."
    assert page.locator("#jobs-list .job-name", has_text="game").count() == 1  # one job, not one per attempt
    job_id = open_job_id(page)

    # 2. Outlines. Two rink points are not a polygon: the API's 400 is explained next to the panel.
    page.wait_for_function("document.querySelector('#preview').readyState >= 2")
    page.fill("#jersey_number", "19")
    page.fill("#jersey_color", "red")
    page.check("input[name=tool][value=rink]")
    click_frame(page, 0.05, 0.05)
    click_frame(page, 0.95, 0.05)
    page.click("#run-btn")
    page.wait_for_selector("#rink_polygon-err:not(:empty)")
    assert "Rink outline needs at least 3 points" in page.text_content("#rink_polygon-err")
    assert page.locator(".poly-row.invalid[data-poly=rink]").count() == 1
    click_frame(page, 0.95, 0.95)
    assert page.text_content("#rink_polygon-err") == ""  # the edit clears the verdict
    click_frame(page, 0.05, 0.95)
    drag_frame(page, (0.05, 0.05), (0.10, 0.12))  # move the first point
    assert "4 points" in page.text_content("[data-poly=rink]")

    # A bench from the keyboard: Add bench focuses the frame; arrows + Enter add points, V selects, Delete.
    page.click("#add-bench")
    assert page.evaluate("document.activeElement.id") == "frame"
    for key in ["Shift+ArrowDown"] * 14 + ["Enter"] + ["Shift+ArrowRight"] * 2 + ["Enter"]:
        page.keyboard.press(key)
    for key in ["Shift+ArrowDown"] * 2 + ["Enter"]:
        page.keyboard.press(key)
    assert "3 points" in page.text_content("[data-poly=bench-0]")
    page.keyboard.press("v")
    page.keyboard.press("ArrowLeft")  # moves the selected first point 0.01 to the left
    page.keyboard.press("Escape")
    page.keyboard.press("v")
    page.keyboard.press("v")
    page.keyboard.press("Delete")
    assert "2 points" in page.text_content("[data-poly=bench-0]")
    page.keyboard.press("Enter")  # the crosshair sat on the deleted point: put one back there
    assert "3 points" in page.text_content("[data-poly=bench-0]")
    # A second bench, drawn, cleared and removed with the buttons.
    page.click("#add-bench")
    click_frame(page, 0.8, 0.8)
    click_frame(page, 0.9, 0.8)
    assert "2 points" in page.text_content("[data-poly=bench-1]")
    page.click("[data-poly=bench-1] button:has-text('Clear')")
    assert "none" in page.text_content("[data-poly=bench-1]")
    page.click("[data-poly=bench-1] button:has-text('Remove')")
    assert page.locator("[data-poly^=bench]").count() == 1
    shot(page, "07-outlines")

    page.click("#run-btn")
    page.wait_for_selector("#progress-section:not([hidden])")
    # This stack has no tracker: the queued job says so instead of waiting without a word.
    page.wait_for_selector("#queue-hint:has-text('No tracker is running')")
    setup = saved_setup(page, job_id)
    rink = setup["rink_polygon"]
    assert len(rink) == 4 and rink[1:] == [[0.95, 0.05], [0.95, 0.95], [0.05, 0.95]]
    assert abs(rink[0][0] - 0.10) < 0.01 and abs(rink[0][1] - 0.12) < 0.01, rink
    (bench,) = setup["bench_polygons"]
    assert len(bench) == 3
    assert abs(bench[0][0] - 0.09) < 0.011 and abs(bench[0][1] - 0.82) < 0.011, bench
    assert abs(bench[2][0] - 0.20) < 0.011 and abs(bench[2][1] - 0.82) < 0.011, bench  # deleted, re-added last

    # 3. The fake tracker finishes the job; the real exporter cuts the clips.
    http = httpx.Client(base_url=fake_stack, headers={"X-API-Key": KEY}, timeout=30)
    video_info = http.get(f"/jobs/{job_id}").json()["video"]
    with ThreadPoolExecutor(1) as pool:  # its own thread: Playwright's sync API owns this one's event loop
        pool.submit(asyncio.run, finish_job(infra, job_id, video_info, video.read_bytes())).result()
    page.wait_for_selector("#results-section:not([hidden])", timeout=120_000)
    assert page.locator("#shift-table tbody tr[data-index]").count() == 2
    assert page.is_hidden("#queue-hint")  # no longer queued

    # 4. Debug overlay and timeline.
    page.wait_for_selector("#debug-figure:not([hidden])")
    assert "/artifacts/debug/overlay.mp4?api_key=" in page.get_attribute("#debug-player", "src")
    page.wait_for_function("document.querySelector('#debug-player').readyState >= 1")
    assert "/artifacts/debug/timeline.json" in page.get_attribute("#debug-timeline", "href")

    # 5. All clips in one zip, straight from the link.
    with page.expect_download() as info:
        page.click("#zip-download")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(str(target))
    assert target.name == "game-clips.zip"
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
        assert archive.namelist() == ["shift-01.mp4", "shift-02.mp4"] and archive.testzip() is None

    # 6. Review: reject the second shift, trim the first; each waits for the exporter's re-cut.
    expected = {"console: Failed to load resource: net::ERR_FAILED"}  # the aborted first upload
    if has_review(fake_stack):
        page.click("button[aria-label='Reject shift 2']")
        page.wait_for_selector("#review-state-1:has-text('Rejected.')", timeout=120_000)
        assert "rejected" in (page.get_attribute("tr[data-index='1']", "class") or "")
        assert page.get_attribute("button[aria-label='Reject shift 2']", "aria-pressed") == "true"
        page.click("button[aria-label='Accept shift 1']")
        page.wait_for_selector("#review-state-0:has-text('Accepted.')", timeout=120_000)
        page.click("button[aria-label='Trim shift 1']")
        page.fill("#trim-0-start", "2.5")
        page.fill("#trim-0-end", "2.0")  # refused in the browser: the end is before the start
        page.click("#trim-0 button[type=submit]")
        assert "before the end" in page.text_content("#trim-0-err")
        page.fill("#trim-0-end", "3.5")
        page.click("#trim-0 button[type=submit]")
        page.wait_for_selector("#review-state-0:has-text('Clip updated.')", timeout=120_000)
        row = page.text_content("tr[data-index='0']") or ""
        assert "0:02.5" in row and "0:03.5" in row, row
        assert "/artifacts/clips/000.r" in (page.get_attribute("#clip-player", "src") or "")  # the re-cut clip
        page.wait_for_function("document.querySelector('#clip-player').readyState >= 1")
        results = http.get(f"/jobs/{job_id}/results").json()
        assert [s["decision"] for s in results["shifts"]] == ["accepted", "rejected"]
        with zipfile.ZipFile(io.BytesIO(http.get(f"/jobs/{job_id}/clips.zip").content)) as archive:
            assert archive.namelist() == ["shift-01.mp4"]  # rejected shifts are left out
    else:  # the UI is in place; without the endpoint it says so instead of failing silently
        page.click("button[aria-label='Reject shift 2']")
        page.wait_for_selector("#review-state-1:has-text('Review is not available')")
        expected.add("console: Failed to load resource: the server responded with a status of 404 (Not Found)")
    shot(page, "08-review", full=True)

    # 7. Another browser (no local copy of the video) previews the exporter's proxy once it is ready.
    if "proxy_ready" in http.get(f"/jobs/{job_id}").json():
        other = context.browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        other_problems = watch_console(other)
        enter_key(other, fake_stack)
        other.click(f".job-link[data-job='{job_id}']")
        other.wait_for_function(
            "(document.querySelector('#preview').getAttribute('src') || '').includes('/artifacts/proxy.mp4')"
        )
        other.wait_for_function("document.querySelector('#preview').readyState >= 2")
        assert other.is_hidden("#no-preview") and not other_problems, other_problems
        other.context.close()

    # Also expected: the browser logging the deliberate 400 of the two-point rink.
    unexpected = [
        p
        for p in problems
        if not any(p.startswith(e) for e in expected) and not ("status of 400" in p and p.endswith("/setup"))
    ]
    assert not unexpected, unexpected
    context.close()
