"""The gateway's error mapping for failures that are not the client's fault."""

from __future__ import annotations

import nats.errors

from shiftclipper_api.errors import internal_handler


class _Url:
    path = "/jobs/x"


class _Request:
    url = _Url()


def test_broker_timeouts_are_503_with_retry_after_not_500() -> None:
    """During a NATS failover a KV read times out: clients get a retryable 503, never an opaque 500."""
    resp = internal_handler(_Request(), nats.errors.TimeoutError())  # type: ignore[arg-type]
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert resp.content.error.code == "unavailable"
    assert internal_handler(_Request(), ValueError("bug")).status_code == 500  # type: ignore[arg-type]
