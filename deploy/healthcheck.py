"""Container health check, stdlib only (copied into every image as /usr/local/bin/sc-healthcheck).

    sc-healthcheck http://127.0.0.1:8000/health/ready   # the URL answers 2xx (gateway, or any worker)
    sc-healthcheck                                      # worker: its own /health/ready, or a floor

Without an argument (the images' HEALTHCHECK) a worker with SHIFTCLIPPER_METRICS_PORT set is checked on
its `/health/ready` (NATS connected, its durable consumer readable, object storage answering). With the
port off (0, the default) only a liveness floor is left: the process is not a zombie and a NATS server
from SHIFTCLIPPER_NATS_URL accepts TCP connections.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from urllib.parse import urlsplit


def check_url(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def worker_health_url() -> str | None:
    """The worker's readiness URL when its health port is on."""
    port = os.environ.get("SHIFTCLIPPER_METRICS_PORT", "").strip()
    return f"http://127.0.0.1:{port}/health/ready" if port.isdigit() and int(port) else None


def check_worker() -> bool:
    if url := worker_health_url():
        return check_url(url)
    try:
        with open("/proc/1/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
    except OSError:
        pass  # not Linux: skip the process check
    for server in os.environ.get("SHIFTCLIPPER_NATS_URL", "nats://127.0.0.1:4222").split(","):
        parts = urlsplit(server.strip() if "://" in server else "nats://" + server.strip())
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=3):
                return True
        except OSError:
            continue
    return False


if __name__ == "__main__":
    sys.exit(0 if (check_url(sys.argv[1]) if len(sys.argv) > 1 else check_worker()) else 1)
