"""Container health check, stdlib only (copied into every image as /usr/local/bin/sc-healthcheck).

    sc-healthcheck http://127.0.0.1:8000/health/ready   # gateway: the URL answers 2xx
    sc-healthcheck                                      # worker: PID 1 is running and NATS is reachable

Workers (tracker, exporter) expose no HTTP endpoint yet, so their check is a liveness floor: the
process is not a zombie and a NATS server from SHIFTCLIPPER_NATS_URL accepts TCP connections.
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


def check_worker() -> bool:
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
