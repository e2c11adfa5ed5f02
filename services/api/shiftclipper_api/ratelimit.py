"""Per-API-key rate limits on the expensive entry points (job creation, uploads): token buckets.

Each gateway process keeps its own buckets in memory (one per API key and action, so memory is bounded
by the configured keys); with N replicas behind a balancer a key gets up to N times the rate. That is
the intended trade: no shared state on the request path, and the limits exist to stop a runaway
client, not to meter billing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from shiftclipper_contracts.config import ServiceConfig

from .errors import ApiError


@dataclass
class TokenBucket:
    per_s: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_s


class RateLimit:
    """One limited action ("create", "upload") across API keys."""

    def __init__(self, action: str, per_min: float, burst: int) -> None:
        self.action, self.per_s, self.burst = action, per_min / 60.0, burst
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, who: str) -> None:
        """Raise 429 (with Retry-After) when `who` is over the limit; a rate of 0 means unlimited."""
        if self.per_s <= 0:
            return
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = TokenBucket(self.per_s, self.burst)
        wait = bucket.take(time.monotonic())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"too many {self.action} requests for this API key; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )


class RateLimits:
    def __init__(self, config: ServiceConfig) -> None:
        self.create = RateLimit("job creation", config.rate_jobs_per_min, config.rate_jobs_burst)
        self.upload = RateLimit("upload", config.rate_uploads_per_min, config.rate_uploads_burst)
