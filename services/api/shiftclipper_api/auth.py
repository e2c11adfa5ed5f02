"""API keys: `X-API-Key` or `Authorization: Bearer`. Keys are compared in constant time."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from litestar import Request

from shiftclipper_contracts.config import ServiceConfig, parse_api_keys

from .errors import ApiError


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool = False

    def can_see(self, owner: str) -> bool:
        return self.admin or owner == self.name


class KeyRing:
    def __init__(self, config: ServiceConfig) -> None:
        self._keys = [(key.encode(), name) for key, name in parse_api_keys(config.api_keys).items()]
        if config.admin_key:
            self._keys.append((config.admin_key.encode(), "admin"))
        self._admin = config.admin_key.encode() if config.admin_key else None

    def resolve(self, presented: str) -> Principal | None:
        candidate = presented.encode()
        match: Principal | None = None
        for key, name in self._keys:  # no early exit: timing does not reveal which key matched
            if hmac.compare_digest(candidate, key):
                match = Principal(name, admin=self._admin is not None and hmac.compare_digest(candidate, self._admin))
        return match


def presented_key(request: Request) -> str | None:
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.query_params.get("api_key")  # for <video src> and EventSource, which send no headers


async def provide_principal(request: Request) -> Principal:
    keys: KeyRing = request.app.state.deps.keys
    key = presented_key(request)
    principal = keys.resolve(key) if key else None
    if principal is None:
        raise ApiError(401, "unauthorized", "missing or invalid API key")
    return principal
