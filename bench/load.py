"""Gateway load and queue drain (SPEC §5: 200 status readers + 20 uploads for 60 s with no error;
1,000 queued jobs drained with the concurrency limit honoured).

Starts a real nats-server, SeaweedFS, the gateway and the exporter as subprocesses (as in production),
then runs two phases:

1. load: `--readers` concurrent clients loop on `GET /jobs/{id}` over a pool of jobs while `--uploaders`
   clients loop on create + `PUT /jobs/{id}/video` (a small real mp4), for `--seconds`. Prints status-read
   p50/p99/max latency, reads/s, uploads done and every error (any non-2xx or transport error is one).
2. drain: `--drain-jobs` jobs are queued with no tracker running, then `--trackers` fake trackers (the real
   worker loop with a fast fake pipeline, tests/support/fake_tracker_worker.py) start; with the work
   consumer's MaxAckPending = `--concurrency`, the jobs drain. Prints drain time and the most jobs that
   were tracking at once (from every tracker's start/end log), which must not exceed the limit.

Rate limits are switched off (0) for the gateway here: this measures capacity, not the limiter.
The client runs in this same process (asyncio + httpx), so on a 2-core machine latency includes the
client's own queueing: these are upper bounds.

    .venv/bin/python bench/load.py                          # 200 readers + 20 uploaders, 60 s; 1,000 jobs
    .venv/bin/python bench/load.py --seconds 10 --drain-jobs 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shiftclipper_common.localinfra import ManagedProcess  # noqa: E402
from tests.conftest import start_infra  # noqa: E402
from tests.support.services import gateway, service_env, start_service  # noqa: E402
from tests.support.videos import make_video  # noqa: E402

ALICE = {"X-API-Key": "alice-key-123"}
MP4 = {"Content-Type": "video/mp4"}
SETUP = {"jersey_number": "19", "jersey_color": "red", "clip_mode": "copy", "reel": False}
TERMINAL = {"done", "done_no_shifts", "failed", "cancelled"}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    uploads: int = 0
    errors: list[str] = field(default_factory=list)


async def reader(client: httpx.AsyncClient, job_ids: list[str], until: float, tally: Tally, offset: int) -> None:
    i = offset
    while time.monotonic() < until:
        job_id = job_ids[i % len(job_ids)]
        i += 1
        t0 = time.perf_counter()
        try:
            resp = await client.get(f"/jobs/{job_id}")
            if resp.status_code != 200:
                tally.errors.append(f"status read {resp.status_code}")
        except httpx.HTTPError as exc:
            tally.errors.append(f"status read {exc!r}")
            continue
        tally.latencies.append(time.perf_counter() - t0)


async def uploader(client: httpx.AsyncClient, video: bytes, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        try:
            created = await client.post("/jobs", json={"name": "load"})
            job_id = created.json()["job_id"]
            resp = await client.put(f"/jobs/{job_id}/video", content=video, headers=MP4)
            if resp.status_code != 200:
                tally.errors.append(f"upload {resp.status_code} {resp.text[:120]}")
                continue
        except (httpx.HTTPError, KeyError) as exc:
            tally.errors.append(f"upload {exc!r}")
            continue
        tally.uploads += 1


async def load_phase(url: str, video: bytes, readers: int, uploaders: int, seconds: float) -> Tally:
    limits = httpx.Limits(max_connections=readers + uploaders + 10, max_keepalive_connections=readers + uploaders)
    async with httpx.AsyncClient(base_url=url, headers=ALICE, timeout=60, limits=limits) as client:
        job_ids = [(await client.post("/jobs", json={"name": f"read-{i}"})).json()["job_id"] for i in range(50)]
        tally = Tally()
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(reader(client, job_ids, until, tally, i) for i in range(readers)),
            *(uploader(client, video, until, tally) for _ in range(uploaders)),
        )
    return tally


def report_load(tally: Tally, seconds: float, readers: int, uploaders: int) -> None:
    lat = sorted(tally.latencies)
    if not lat:
        print("load: no status read completed")
        return
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(
        f"load: {readers} readers + {uploaders} uploaders for {seconds:.0f} s: {len(lat)} status reads "
        f"({len(lat) / seconds:.0f}/s), p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000:.0f} ms; "
        f"{tally.uploads} uploads ({tally.uploads / seconds:.1f}/s); errors: {len(tally.errors)}"
    )
    for error in sorted(set(tally.errors))[:10]:
        print("  error:", error)


async def queue_jobs(url: str, video: bytes, count: int, submitters: int = 8) -> list[str]:
    queue = list(range(count))
    made: list[str] = []

    async def submit(client: httpx.AsyncClient) -> None:
        while queue:
            queue.pop()
            job_id = (await client.post("/jobs", json={"name": "drain"})).json()["job_id"]
            (await client.put(f"/jobs/{job_id}/video", content=video, headers=MP4)).raise_for_status()
            (await client.put(f"/jobs/{job_id}/setup", json=SETUP)).raise_for_status()
            assert (await client.post(f"/jobs/{job_id}/run")).status_code == 202
            made.append(job_id)

    async with httpx.AsyncClient(base_url=url, headers=ALICE, timeout=60) as client:
        await asyncio.gather(*(submit(client) for _ in range(submitters)))
    return made


def max_concurrent(spans: Path) -> int:
    """The most jobs between a `start` and its `end` at any moment, over every tracker's log lines."""
    events = []
    for line in spans.read_text().splitlines():
        kind, _job, _pid, at = line.split()
        events.append((float(at), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start at the same time
        running += delta
        peak = max(peak, running)
    return peak


def drain_phase(url: str, env: dict[str, str], video: bytes, args: argparse.Namespace, logs: Path) -> None:
    t0 = time.monotonic()
    job_ids = asyncio.run(queue_jobs(url, video, args.drain_jobs))
    queued_s = time.monotonic() - t0
    spans = logs / "spans.txt"
    tracker_env = {**env, "PYTHONPATH": str(REPO), "SHIFTCLIPPER_FAKE_SPEED": str(args.fake_speed),
                   "SHIFTCLIPPER_FAKE_SPANS": str(spans)}  # fmt: skip
    argv = [sys.executable, "-m", "tests.support.fake_tracker_worker"]
    trackers = [
        ManagedProcess(f"fake-tracker-{i}", argv, logs / f"tracker-{i}.log", env=tracker_env).start()
        for i in range(args.trackers)
    ]
    t1 = time.monotonic()
    try:
        with httpx.Client(base_url=url, headers=ALICE, timeout=60) as client:
            while True:
                stats = client.get("/stats").json()
                active = sum(stats["jobs_by_status"].get(s, 0) for s in ("queued", "tracking", "exporting"))
                if active == 0:
                    break
                if time.monotonic() - t1 > args.drain_timeout:
                    print(f"drain: timed out with {active} jobs still active")
                    break
                time.sleep(1.0)
            finals = [client.get(f"/jobs/{job_id}").json()["status"] for job_id in job_ids]
    finally:
        for tracker in trackers:
            tracker.stop()
    drain_s = time.monotonic() - t1
    not_done = sum(1 for s in finals if s not in ("done", "done_no_shifts"))
    peak = max_concurrent(spans)
    verdict = "limit honoured" if peak <= args.concurrency else "LIMIT EXCEEDED"
    print(
        f"drain: {len(job_ids)} jobs queued in {queued_s:.0f} s; {args.trackers} trackers, limit "
        f"{args.concurrency}: drained in {drain_s:.0f} s ({len(job_ids) / drain_s:.1f} jobs/s); "
        f"most tracking at once: {peak} ({verdict}); "
        f"not done: {not_done}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain-jobs", type=int, default=1000, help="0 skips the drain phase")
    parser.add_argument("--trackers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="tracker_concurrency (MaxAckPending)")
    parser.add_argument("--fake-speed", type=float, default=40.0, help="video seconds a fake tracker does per second")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sc-load-") as tmp:
        root = Path(tmp)
        # 2 s: no shift in the fake tracker's plan, so a drained job needs no clip cutting (done_no_shifts).
        video = make_video(root / "v.mp4", seconds=2.0).read_bytes()
        infra = start_infra(root / "infra", tracker_concurrency=args.concurrency)
        extra = {
            "SHIFTCLIPPER_RATE_JOBS_PER_MIN": "0",
            "SHIFTCLIPPER_RATE_UPLOADS_PER_MIN": "0",
            "SHIFTCLIPPER_TRACKER_CONCURRENCY": str(args.concurrency),
            "SHIFTCLIPPER_LOG_LEVEL": "warning",
        }
        env = service_env(infra.config, **extra)
        exporter = start_service("exporter", env, root / "exporter")
        try:
            with gateway(infra.config, root / "api", **extra) as url:
                if not args.skip_load:
                    tally = asyncio.run(load_phase(url, video, args.readers, args.uploaders, args.seconds))
                    report_load(tally, args.seconds, args.readers, args.uploaders)
                if args.drain_jobs:
                    drain_phase(url, env, video, args, root)
        finally:
            exporter.stop()
            infra.stop()


if __name__ == "__main__":
    main()
