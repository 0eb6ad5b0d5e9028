"""Gateway API tests against the real Mongo, Redis and broker: an in-process app (TestClient),
and for what only a real server shows (streamed bodies, memory, timing) a uvicorn process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.support import procs
from tests.support.services import MongoServer, Vhost, check_reachable, redis_url, unique

LOG_DIR = Path(os.environ.get("RAGTASKS_TEST_LOG_DIR", "/tmp/ragtasks-test-logs"))
# Short, so the half-sent-body test is quick; long enough for a loaded machine's normal requests.
BODY_TIMEOUT_SECONDS = 1.5


@pytest.fixture(scope="package")
def vhost() -> Iterator[Vhost]:
    """A vhost of their own: tasks these tests publish (and nobody consumes) stay here."""
    vh = Vhost.create()
    check_reachable(vh.broker_url, redis_url())
    yield vh
    vh.delete()


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(max_message_chars=200, max_messages_per_request=3)


@pytest.fixture(scope="module")
def live_gateway(mongo_server: MongoServer, vhost: Vhost) -> Iterator[procs.Proc]:
    """The gateway as a real uvicorn process (what a client meets), with a short body timeout.

    ``proc.extra["env"]`` holds its RAGTASKS_* environment."""
    db_name = unique("ragtasks_test")
    env = {
        "RAGTASKS_ENVIRONMENT": "development",
        "RAGTASKS_BROKER_URL": vhost.broker_url,
        "RAGTASKS_RESULT_BACKEND": redis_url(),
        "RAGTASKS_REDIS_URL": redis_url(),
        "RAGTASKS_KEY_PREFIX": unique("rt"),
        "RAGTASKS_MONGODB_URL": mongo_server.url,
        "RAGTASKS_MONGODB_DB": db_name,
        "RAGTASKS_API_KEYS": "test-key-0123456789",
        "RAGTASKS_LOG_JSON": "false",
        "RAGTASKS_LLM_BASE_URL": "",
        "RAGTASKS_REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
    }
    proc = procs.start_gateway(env, LOG_DIR)
    proc.extra["env"] = env
    yield proc
    proc.stop()
    with MongoClient(mongo_server.url) as client:
        client.drop_database(db_name)
