"""Stream a large upload through the gateway and measure its memory and throughput.

Starts a real nats-server, SeaweedFS and the gateway (as a subprocess, like production), then PUTs
`--gib` GiB of video (a short MPEG-TS segment repeated; TS concatenates into a valid stream) and
samples the gateway's RSS every 20 ms. Target (SPEC §5): >= 200 MB/s, RSS growth <= 64 MiB.

    .venv/bin/python bench/upload_rss.py --gib 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import start_infra  # noqa: E402
from tests.support.services import gateway  # noqa: E402

MIB = 1024 * 1024


def ts_segment(path: Path, seconds: float = 4.0) -> bytes:
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(int(seconds * 25)):
            image = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=2.0)
    args = parser.parse_args()
    total = int(args.gib * 1024 * MIB)
    with tempfile.TemporaryDirectory() as tmp:
        segment = ts_segment(Path(tmp) / "seg.ts")
        infra = start_infra(Path(tmp) / "infra")
        try:
            with gateway(infra.config, Path(tmp)) as url:
                measure(url, total, segment)
        finally:
            infra.stop()


def measure(url: str, total: int, segment: bytes) -> None:
    pid = int(next(line for line in _ps() if "shiftclipper_api" in line).split()[0])
    client = httpx.Client(base_url=url, headers={"X-API-Key": "alice-key-123"}, timeout=None)
    job_id = client.post("/jobs", json={"name": "big"}).json()["job_id"]
    block = segment * max(1, (8 * MIB) // len(segment))

    def body():
        sent = 0
        while sent < total:
            chunk = block[: total - sent]
            sent += len(chunk)
            yield chunk

    baseline = rss_bytes(pid)
    peak, stop = [baseline], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    resp = client.put(f"/jobs/{job_id}/video?filename=big.ts", content=body(), headers={"Content-Type": "video/mp2t"})
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    mb_s = total / wall / 1e6
    growth = (peak[0] - baseline) / MIB
    print(f"upload: {total / MIB:.0f} MiB in {wall:.1f} s = {mb_s:.0f} MB/s (target >= 200)")
    print(
        f"gateway RSS: baseline {baseline / MIB:.0f} MiB, peak {peak[0] / MIB:.0f} MiB, growth {growth:.1f} MiB (<= 64)"
    )
    print(f"response: {resp.status_code} {resp.json().get('status', resp.json())}")
    print(f"ratio: RSS growth / upload size = {growth * MIB / total:.5f}")


def _ps() -> list[str]:
    import subprocess

    return subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()


if __name__ == "__main__":
    main()
