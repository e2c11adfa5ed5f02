"""Unauthenticated probes and metrics."""

from __future__ import annotations

from collections.abc import Iterator

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shiftclipper_contracts.status import JobState

from .status_cache import StatusCache


@get("/health/live", exclude_from_auth=True)
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready")
async def ready(request: Request) -> Response[dict[str, object]]:
    deps = request.app.state.deps
    checks = {
        "nats": bool(deps.nc.is_connected),
        "object_storage": await deps.store.ping(),
        "status_cache": deps.status.ready.is_set(),
    }
    ok = all(checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@get("/metrics", media_type=CONTENT_TYPE_LATEST)
async def metrics() -> bytes:
    return generate_latest(REGISTRY)


class JobsByState(Collector):
    """Jobs per state, read from the gateway's status cache at scrape time."""

    def __init__(self, cache: StatusCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("shiftclipper_jobs", "Jobs by status", labels=["status"])
        counts = dict.fromkeys(JobState, 0)
        for record in self.cache.records.values():
            counts[record.status] += 1
        for state, count in counts.items():
            family.add_metric([state.value], count)
        yield family


HEALTH_ROUTES = [live, ready, metrics]
