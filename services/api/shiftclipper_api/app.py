"""The Litestar application: clients created once in the lifespan, routes, error shape, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from prometheus_client import REGISTRY

from shiftclipper_common.bus import close, connect
from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts.config import ServiceConfig
from shiftclipper_projector.consumer import run_projector

from .auth import KeyRing, provide_principal
from .deps import Deps
from .errors import EXCEPTION_HANDLERS, document_errors
from .health import HEALTH_ROUTES, JobsByState
from .jobs_repo import JobsRepo
from .ratelimit import RateLimits
from .routes import ROUTES
from .routes_downloads import DOWNLOAD_ROUTES
from .routes_review import REVIEW_ROUTES
from .service import JobService
from .status_cache import StatusCache
from .ui import UI_ROUTES


def create_app(config: ServiceConfig, embed_projector: bool = True) -> Litestar:
    """`embed_projector` runs the projector inside this process (replicas share its durable consumer,
    and compare-and-set keeps concurrent writes safe)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        nc, js = await connect(config, "gateway")
        store = await ObjectStore(config).start()
        await store.ensure_bucket()
        cache = StatusCache()
        cache.start(js)
        deps = Deps(config, nc, js, store, await JobsRepo.open(js), cache, KeyRing(config))
        app.state.deps, app.state.jobs = deps, JobService(deps)
        app.state.limits = RateLimits(config)
        stop = asyncio.Event()
        projector = asyncio.create_task(run_projector(js, stop)) if embed_projector else None
        collector = JobsByState(cache)
        REGISTRY.register(collector)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cache.ready.wait(), 10)
        try:
            yield
        finally:
            REGISTRY.unregister(collector)
            stop.set()
            if projector:
                await projector
            await cache.stop()
            await store.close()
            await close(nc)

    document_errors([*ROUTES, *DOWNLOAD_ROUTES, *REVIEW_ROUTES])
    return Litestar(
        route_handlers=[*ROUTES, *DOWNLOAD_ROUTES, *REVIEW_ROUTES, *HEALTH_ROUTES, *UI_ROUTES],
        dependencies={"principal": Provide(provide_principal)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="ShiftClipper", version="1", path="/schema"),
        request_max_body_size=1024 * 1024,  # JSON bodies; uploads set their own limit
        debug=False,
    )
