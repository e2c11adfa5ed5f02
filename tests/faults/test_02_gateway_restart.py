"""A gateway restart loses no job: every id still answers 200 with the same status."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.faults.conftest import Stack, submit

ADMIN = {"X-API-Key": "admin-key-789"}


def test_every_job_answers_after_gateway_restart(stack: Stack, small_video: Path) -> None:
    with stack.client() as client:
        made = [client.post("/jobs", json={"name": "restart-created"}).json()["job_id"]]
        made.append(submit(client, small_video, "restart-uploaded", run=False))
    with httpx.Client(base_url=stack.url, headers=ADMIN, timeout=30) as admin:
        before = {j["job_id"]: j["status"] for j in admin.get("/jobs", params={"limit": 500}).json()["jobs"]}
    assert set(made) <= before.keys()

    assert stack.gateway is not None
    stack.gateway.stop()
    stack.start_gateway()  # a new process (and port); it only has NATS and S3 to go by

    with httpx.Client(base_url=stack.url, headers=ADMIN, timeout=30) as admin:
        for job_id, status in before.items():
            answer = admin.get(f"/jobs/{job_id}")
            assert answer.status_code == 200, (job_id, answer.text)
            assert answer.json()["status"] == status, (job_id, answer.json())
        after = {j["job_id"] for j in admin.get("/jobs", params={"limit": 500}).json()["jobs"]}
    assert before.keys() <= after
