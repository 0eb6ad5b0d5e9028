"""Small helpers for integration tests (HTTP against the gateway, polling tasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.procs import wait_until

TERMINAL = {"SUCCESS", "FAILURE", "REJECTED", "REVOKED"}


def auth(key: str = "test-key-0123456789") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_task(client: Any, task_id: str, timeout: float = 60, states: set[str] = TERMINAL) -> dict[str, Any]:
    """Poll ``GET /v1/tasks/{id}`` until a state in ``states``; ``client`` is an httpx/TestClient."""

    def body() -> dict[str, Any]:
        response = client.get(f"/v1/tasks/{task_id}", headers=auth())
        assert response.status_code == 200, response.text
        return dict(response.json())

    return wait_until(
        body, timeout, 0.2, f"task {task_id} to reach {sorted(states)}", until=lambda b: b["state"] in states
    )


def gateway_client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)


def refused_start(
    start_worker: Any, queue: str, env: dict[str, str], variable: str, path: Path, content: str | None
) -> str:
    """Write ``content`` at ``path`` (None: no file), start the ``queue`` worker with ``variable``
    naming it, and return the log of its refusal: it must exit, with no traceback."""
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RuntimeError, match=f"worker {queue} exited") as refused:
        start_worker(queue, {**env, variable: str(path)}, concurrency=1)
    log = str(refused.value)
    assert "Traceback" not in log, log
    return log
