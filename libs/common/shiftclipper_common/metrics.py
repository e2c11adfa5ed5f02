"""Prometheus metrics of the worker services (the gateway serves its own at /metrics).

Workers expose them on `SHIFTCLIPPER_METRICS_PORT` when it is set (0 = off), next to their health
endpoints (`health.py`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter("shiftclipper_worker_jobs_total", "Work items finished, by service and outcome", ["service", "outcome"])
REDELIVERIES = Counter("shiftclipper_redeliveries_total", "Messages received more than once", ["service"])
STAGE_SECONDS = Histogram(
    "shiftclipper_stage_seconds",
    "Wall time per stage of one work item",
    ["stage"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
TRACK_FPS = Gauge("shiftclipper_tracker_fps", "Video frames per second processed by the last tracking job")
IN_FLIGHT = Gauge("shiftclipper_in_flight", "Work items being processed now", ["service"])
