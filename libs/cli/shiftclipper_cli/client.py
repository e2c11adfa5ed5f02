"""A small synchronous client of the gateway's HTTP API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        self.status, self.code = status, err.get("code", "error")
        field = f" ({err['field']})" if err.get("field") else ""
        super().__init__(f"{status} {self.code}: {err.get('message', body)}{field}")


class Client:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=timeout)

    def _json(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"error": {"message": resp.text}}
            raise ApiError(resp.status_code, body)
        return resp.json() if resp.content else None

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(self.http.request(method, path, **kwargs))

    def upload(self, job_id: str, path: Path, on_bytes: Callable[[int], None]) -> dict[str, Any]:
        def chunks() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    on_bytes(len(chunk))
                    yield chunk

        resp = self.http.put(
            f"/jobs/{job_id}/video",
            params={"filename": path.name},
            content=chunks(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)},
            timeout=None,
        )
        return self._json(resp)

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Status records from the SSE stream until the job ends."""
        with self.http.stream("GET", f"/jobs/{job_id}/events", timeout=httpx.Timeout(60.0, read=120.0)) as resp:
            if resp.status_code >= 400:
                resp.read()
                self._json(resp)
            for line in resp.iter_lines():
                if line.startswith("data:") and line[5:].strip().startswith("{"):
                    yield json.loads(line[5:])

    def download(self, job_id: str, name: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.http.stream("GET", f"/jobs/{job_id}/artifacts/{name}", timeout=None) as resp:
            if resp.status_code >= 400:
                resp.read()
                self._json(resp)
            with dest.open("wb") as handle:
                for chunk in resp.iter_bytes(1024 * 1024):
                    handle.write(chunk)


def queue_note(client: Client, grace_s: float = 0.0, poll_s: float = 0.5) -> str | None:
    """Why a queued job does not start, when the gateway can tell (`GET /stats`); None otherwise. With `grace_s`,
    a tracker that connects within that long is no reason to say anything (one the CLI just started is still
    loading its models)."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            stats = client.call("GET", "/stats")
        except (ApiError, httpx.HTTPError):
            return None  # an older gateway, or a hiccup: say nothing rather than guess
        if stats.get("tracker_connected", True):
            return None
        if time.monotonic() >= deadline:
            return "no tracker is running: the job waits in the queue until one starts"
        time.sleep(poll_s)
