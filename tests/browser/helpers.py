"""What the browser tests share: where screenshots go, console-error capture, clicks on the frame."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import REPO

UPDATE_SCREENSHOTS = os.environ.get("SHIFTCLIPPER_UPDATE_SCREENSHOTS") == "1"
SHOTS = (
    REPO / "docs" / "screenshots" if UPDATE_SCREENSHOTS else Path(tempfile.gettempdir()) / "shiftclipper-screenshots"
)
"""The committed README screenshots change only when asked (SHIFTCLIPPER_UPDATE_SCREENSHOTS=1), so a test
run leaves the git tree clean; otherwise they go to a temp folder for a look."""
KEY = "alice-key-123"


def shot(page: Any, name: str, full: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def watch_console(page: Any) -> list[str]:
    """Page errors and console errors, collected as they happen; the tests assert none is unexpected."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            problems.append(f"console: {msg.text} @ {msg.location.get('url')}")

    page.on("console", on_console)
    return problems


def frame_point(page: Any, nx: float, ny: float) -> tuple[float, float]:
    """Page coordinates of a normalised point of the frame canvas."""
    box = page.locator("#frame").bounding_box()
    return box["x"] + nx * box["width"], box["y"] + ny * box["height"]


def click_frame(page: Any, nx: float, ny: float) -> None:
    box = page.locator("#frame").bounding_box()
    page.locator("#frame").click(position={"x": nx * box["width"], "y": ny * box["height"]})


def drag_frame(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    # The whole frame in view first: mouse events outside the viewport reach nothing.
    page.eval_on_selector("#frame", "c => c.scrollIntoView({block: 'center', behavior: 'instant'})")
    page.mouse.move(*frame_point(page, *start))
    page.mouse.down()
    for step in range(1, 6):
        t = step / 5
        page.mouse.move(*frame_point(page, start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])))
    page.mouse.up()


def enter_key(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    page.fill("#api-key", KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#jobs-section:not([hidden])")


def saved_setup(page: Any, job_id: str) -> dict[str, Any]:
    return page.evaluate(
        """async (id) => {
          const headers = {'X-API-Key': localStorage.getItem('shiftclipper.apiKey')};
          return (await fetch(`/jobs/${id}/setup`, {headers})).json();
        }""",
        job_id,
    )


def open_job_id(page: Any) -> str:
    return page.get_attribute(".job-link[aria-current=true]", "data-job")
