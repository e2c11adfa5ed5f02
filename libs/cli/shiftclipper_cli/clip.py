"""`shiftclipper clip`: upload, run, follow progress per stage, download, print the shift table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from .client import Client, queue_note

console = Console(stderr=True)
STAGES = ("upload", "track", "export")


def run_clip(
    client: Client, video: Path, setup: dict[str, Any], out: Path, name: str | None = None, tracker_grace_s: float = 0.0
) -> int:
    """`tracker_grace_s`: how long a tracker may take to connect before a queued job is said to wait for one (the
    caller just started the stack, and the tracker is still loading its models)."""
    job = client.call("POST", "/jobs", json={"name": name or video.name, "setup": setup})
    job_id = job["job_id"]
    console.print(f"job [bold]{job_id}[/bold]")
    with _progress() as progress:
        bars = {stage: progress.add_task(stage, total=1.0) for stage in STAGES}
        size = video.stat().st_size
        progress.update(bars["upload"], total=size)
        client.upload(job_id, video, lambda n: progress.advance(bars["upload"], n))
        client.call("POST", f"/jobs/{job_id}/run")
        final = _follow(client, job_id, progress, bars, tracker_grace_s)
    if final["status"] not in ("done", "done_no_shifts"):
        err = final.get("error") or {}
        console.print(f"[red]job {final['status']}[/red]: {err.get('code', '')} {err.get('message', final['message'])}")
        return 1
    results = client.call("GET", f"/jobs/{job_id}/results")
    _download(client, job_id, results, out)
    _print_table(results, out)
    return 0


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>7}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), console=console,
    )  # fmt: skip


def _follow(
    client: Client, job_id: str, progress: Progress, bars: dict[str, TaskID], tracker_grace_s: float
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    asked = False
    for status in client.events(job_id):
        if status["status"] == "queued" and not asked:
            asked = True
            note = queue_note(client, tracker_grace_s)
            if note:
                progress.console.print(f"[yellow]{note} (Ctrl-C leaves it queued)[/yellow]")
        tracking = min(1.0, status["progress"] / 0.9)
        progress.update(bars["track"], completed=tracking)
        if status["status"] in ("exporting", "done", "done_no_shifts"):
            progress.update(bars["track"], completed=1.0)
        found = status.get("segments_found", 0)
        if found:
            progress.update(bars["export"], completed=status.get("clips_ready", 0) / found)
        if status["status"] in ("done", "done_no_shifts"):
            progress.update(bars["export"], completed=1.0)
    return status or client.call("GET", f"/jobs/{job_id}")


def _download(client: Client, job_id: str, results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    for shift in results["shifts"]:
        if shift.get("clip") and shift.get("decision") != "rejected":
            name = shift["clip"]["key"].split(f"{job_id}/", 1)[1]
            client.download(job_id, name, out / name)
    if results.get("reel"):  # a reviewed job's reel has a revised name (reel.r2.mp4); saved as reel.mp4
        client.download(job_id, results["reel"]["key"].split(f"{job_id}/", 1)[1], out / "reel.mp4")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _print_table(results: dict[str, Any], out: Path) -> None:
    target = results["target"]
    table = Table(title=f"#{target['number']} ({target['color']}) — {results['shift_count']} shift(s)")
    for column in ("#", "start", "end", "duration", "confidence", "clip"):
        table.add_column(column)
    for shift in results["shifts"]:
        clip = shift["clip"]["key"].rsplit("/", 2)[-2:] if shift.get("clip") else ["", ""]
        table.add_row(
            str(shift["index"] + 1), _clock(shift["start_s"]), _clock(shift["end_s"]),
            f"{shift['duration_s']:.1f} s", f"{shift['confidence']:.2f}", "/".join(clip),
        )  # fmt: skip
    Console().print(table)
    Console().print(f"time on ice: {_clock(results['toi_s'])}   output: {out}")
