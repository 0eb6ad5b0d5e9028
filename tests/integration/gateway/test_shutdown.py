"""The gateway stops promptly even when MongoDB went away first (a pod's grace period is finite)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.integration.helpers import auth, gateway_client
from tests.support.procs import free_port, wait_until
from tests.support.services import MONGO_BIN


def test_gateway_shuts_down_quickly_after_mongo_is_gone(
    worker_env: dict[str, str], start_gateway: Any, tmp_path: Path
) -> None:
    port = free_port()
    with open(tmp_path / "mongo.log", "wb") as log:
        mongo = subprocess.Popen(
            [str(MONGO_BIN), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        env = {**worker_env, "RAGTASKS_MONGODB_URL": f"mongodb://127.0.0.1:{port}/?retryWrites=false"}
        gateway = start_gateway(env)
        with gateway_client(gateway.port) as client:
            wait_until(lambda: client.get("/readyz").status_code == 200, 30, 0.3, "the gateway to be ready")
            message = {"messages": [{"role": "user", "content": "hello"}]}
            assert client.post("/v1/sessions/s-1/messages", json=message, headers=auth()).status_code == 200
    finally:
        mongo.kill()
        mongo.wait(10)
    started = time.monotonic()
    gateway.stop(timeout=30)
    assert time.monotonic() - started < 10, "shutdown waited out Mongo's server selection"
