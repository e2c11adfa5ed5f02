"""The `shiftclipper` command. Option defaults and help come from the contracts."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import get_args, get_type_hints

import httpx
import msgspec

from shiftclipper_contracts.config import OcrEngine, ServiceConfig, load_config
from shiftclipper_contracts.job_setup import CameraMode, JobSetup, Mode

from .client import ApiError, Client, queue_note
from .stack import DEFAULT_DATA_DIR, Stack, StackInfo, model_problem, public_key, run_up


def _doc(field: str) -> str:
    """A setup field's description, from the contracts (Annotated[..., Meta(description=...)])."""
    for meta in getattr(get_type_hints(JobSetup, include_extras=True)[field], "__metadata__", ()):
        if getattr(meta, "description", None):
            return str(meta.description)
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shiftclipper", description="Find a hockey player's shifts and cut clips.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the embedded stack (NATS, S3, gateway, tracker, exporter)")
    _stack_args(up)
    clip = sub.add_parser("clip", help="the main job: find a player's shifts in a video and cut clips")
    clip.add_argument("video", type=Path)
    clip.add_argument("--number", required=True, help=_doc("jersey_number") or "jersey number")
    clip.add_argument("--color", required=True, help=_doc("jersey_color") or "jersey colour")
    clip.add_argument("--opponent-color", default=None)
    clip.add_argument("--camera", choices=[m.value for m in CameraMode], default=CameraMode.broadcast.value)
    clip.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.shifts.value)
    clip.add_argument("--out", type=Path, default=Path("shiftclipper-out"))
    clip.add_argument("--setup-json", default=None, help="extra setup fields as JSON (see GET /schema)")
    _stack_args(clip)
    ocr = sub.add_parser("ocr", help="read jersey numbers on player crops (one JSON line per image)")
    ocr.add_argument("images", nargs="+")
    ocr.add_argument(
        "--engine",
        choices=get_args(OcrEngine),
        default=None,
        help=f"OCR engine (default: SHIFTCLIPPER_OCR_ENGINE, else {ServiceConfig().ocr_engine}; docs/ocr.md)",
    )
    for name, help_text in (("status", "show a job"), ("cancel", "cancel a job"), ("retry", "retry a job")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("job_id")
        _stack_args(cmd)
    jobs = sub.add_parser("jobs", help="list jobs")
    jobs.add_argument("--status", default=None)
    _stack_args(jobs)
    return parser


def _stack_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-url", default=os.environ.get("SHIFTCLIPPER_API_URL"))
    parser.add_argument("--api-key", default=os.environ.get("SHIFTCLIPPER_API_KEY"))


def _reachable(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2, trust_env=False).status_code == 200  # local: no proxy
    except httpx.HTTPError:
        return False


def _running(args: argparse.Namespace) -> bool:
    info = StackInfo.load(args.data_dir.expanduser())
    return info is not None and _reachable(info.api_url)


def connect(args: argparse.Namespace, allow_start: bool) -> tuple[Client, Stack | None]:
    """A client for --api-url, else the data directory's running stack, else a newly started one."""
    if args.api_url:
        return Client(args.api_url, args.api_key or ""), None
    info = StackInfo.load(args.data_dir.expanduser())
    if info and _reachable(info.api_url):
        return Client(info.api_url, args.api_key or public_key(info)), None
    if not allow_start:
        raise SystemExit(f"no ShiftClipper stack is running for {args.data_dir}; start one with `shiftclipper up`")
    print("starting the embedded stack…", file=sys.stderr)
    stack = Stack(args.data_dir, args.host, args.port)
    info = stack.start()
    return Client(info.api_url, args.api_key or public_key(info)), stack


TRACKER_STARTUP_S = 60.0
"""A tracker the CLI has just started gets this long to load its models and connect before a queued job is said to
wait for one (`make demo` printed "no tracker is running" on every run)."""


def cmd_clip(args: argparse.Namespace) -> int:
    from .clip import run_clip

    if not args.video.is_file():
        print(f"error: {args.video} is not a file", file=sys.stderr)
        return 2
    setup = {"jersey_number": args.number, "jersey_color": args.color, "camera_mode": args.camera, "mode": args.mode}
    if args.opponent_color:
        setup["opponent_color"] = args.opponent_color
    if args.setup_json:
        setup.update(json.loads(args.setup_json))
    if not args.api_url and not _running(args) and (problem := model_problem()):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    client, stack = connect(args, allow_start=True)
    try:
        return run_clip(client, args.video, setup, args.out, tracker_grace_s=TRACKER_STARTUP_S if stack else 0.0)
    finally:
        if stack:
            stack.stop()


def cmd_ocr(args: argparse.Namespace) -> int:
    from shiftclipper_common.logs import configure_logging
    from shiftclipper_tracker.ocr import JerseyReader, ocr_files

    configure_logging("ocr", json=False, level="warning")  # on stderr: stdout carries the JSON lines
    try:
        config = load_config()
    except msgspec.ValidationError as exc:
        print(f"error: invalid SHIFTCLIPPER_* setting: {exc}", file=sys.stderr)
        return 2
    engine = args.engine or config.ocr_engine
    reader = JerseyReader(engine, paddle_model_dir=config.paddleocr_model_dir)
    if reader.engine != engine:
        print(f"note: {engine} could not load; reading with {reader.engine}", file=sys.stderr)
    for row in ocr_files(args.images, reader):
        print(json.dumps(row), flush=True)
    return 0


def cmd_simple(args: argparse.Namespace) -> int:
    client, _ = connect(args, allow_start=False)
    if args.command == "jobs":
        params = {"status": args.status} if args.status else {}
        result = client.call("GET", "/jobs", params=params)
    elif args.command == "status":
        result = client.call("GET", f"/jobs/{args.job_id}")
    else:
        result = client.call("POST", f"/jobs/{args.job_id}/{args.command}")
    print(json.dumps(result, indent=2))
    if args.command in ("status", "retry") and result.get("status") == "queued" and (note := queue_note(client)):
        print(f"note: {note}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "up":
            return run_up(args.data_dir, args.host, args.port)
        if args.command == "clip":
            return cmd_clip(args)
        if args.command == "ocr":
            return cmd_ocr(args)
        return cmd_simple(args)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
