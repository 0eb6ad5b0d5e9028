"""The gateway stops promptly even when MongoDB went away first (a pod's grace period is finite)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.integration.helpers import auth, gateway_client
from tests.support.procs import wait_until
from tests.support.services import SecantusServer


def test_gateway_shuts_down_quickly_after_mongo_is_gone(
    worker_env: dict[str, str], start_gateway: Any, tmp_path: Path
) -> None:
    # A Mongo server of its own (not the run's, which other tests need): this one goes away.
    with SecantusServer(tmp_path) as mongo:
        gateway = start_gateway({**worker_env, "RAGTASKS_MONGODB_URL": mongo.url})
        with gateway_client(gateway.port) as client:
            wait_until(lambda: client.get("/readyz").status_code == 200, 30, 0.3, "the gateway to be ready")
            message = {"messages": [{"role": "user", "content": "hello"}]}
            assert client.post("/v1/sessions/s-1/messages", json=message, headers=auth()).status_code == 200
    assert not mongo.ready()  # stopped: the gateway's Mongo is gone
    started = time.monotonic()
    gateway.stop(timeout=30)
    assert time.monotonic() - started < 10, "shutdown waited out Mongo's server selection"
