"""Duplicate submissions with one Idempotency-Key are one job (issue #5, SPEC §5 Reliability)."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from tests.faults.conftest import ALICE, Stack


async def test_concurrent_duplicates_make_one_job(stack: Stack) -> None:
    name, key = f"dup-{secrets.token_hex(4)}", secrets.token_hex(8)
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as client:
        headers = {**ALICE, "Idempotency-Key": key}
        answers = await asyncio.gather(*(client.post("/jobs", json={"name": name}, headers=headers) for _ in range(10)))
        assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
        ids = {a.json()["job_id"] for a in answers}
        assert len(ids) == 1, ids
        listed = (await client.get("/jobs", params={"limit": 500}, headers=ALICE)).json()["jobs"]
        assert [j["job_id"] for j in listed if j["name"] == name] == list(ids)
        # The key is scoped to its owner: another API key with the same Idempotency-Key gets its own job.
        bob_headers = {"X-API-Key": "bob-key-456", "Idempotency-Key": key}
        bob = await client.post("/jobs", json={"name": name}, headers=bob_headers)
        assert bob.status_code == 201 and bob.json()["job_id"] not in ids
