"""Process-wide clients, created once at start-up and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext

from shiftclipper_common.storage import ObjectStore
from shiftclipper_contracts.config import ServiceConfig

from .auth import KeyRing
from .jobs_repo import JobsRepo
from .status_cache import StatusCache


@dataclass
class Deps:
    config: ServiceConfig
    nc: Client
    js: JetStreamContext
    store: ObjectStore
    jobs: JobsRepo
    status: StatusCache
    keys: KeyRing
