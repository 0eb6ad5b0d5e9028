"""Small helpers for integration tests (HTTP against the gateway, polling tasks)."""

from __future__ import annotations

import time
from typing import Any

import httpx

TERMINAL = {"SUCCESS", "FAILURE", "REJECTED", "REVOKED"}


def auth(key: str = "test-key-0123456789") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_task(client: Any, task_id: str, timeout: float = 60, states: set[str] = TERMINAL) -> dict[str, Any]:
    """Poll ``GET /v1/tasks/{id}`` until a state in ``states``; ``client`` is an httpx/TestClient."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/tasks/{task_id}", headers=auth())
        assert response.status_code == 200, response.text
        body = response.json()
        if body["state"] in states:
            return body
        time.sleep(0.2)
    raise TimeoutError(f"task {task_id} still {body.get('state')} after {timeout}s")


def gateway_client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
