"""Gateway API tests against the real Mongo, Redis and broker: an in-process app (TestClient),
and for what only a real server shows (streamed bodies, memory, timing) a uvicorn process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOG_DIR
from tests.support import procs
from tests.support.isolation import own_database, own_vhost, ragtasks_env
from tests.support.services import MongoServer, Vhost

# Short, so the half-sent-body test is quick; long enough for a loaded machine's normal requests.
BODY_TIMEOUT_SECONDS = 1.5


@pytest.fixture(scope="package")
def vhost() -> Iterator[Vhost]:
    """A vhost of their own: tasks these tests publish (and nobody consumes) stay here."""
    with own_vhost() as vh:
        yield vh


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(max_message_chars=200, max_messages_per_request=3)


@pytest.fixture(scope="module")
def live_gateway(mongo_server: MongoServer, vhost: Vhost) -> Iterator[procs.Proc]:
    """The gateway as a real uvicorn process (what a client meets), with a short body timeout.

    ``proc.extra["env"]`` holds its RAGTASKS_* environment."""
    with own_database(mongo_server.url) as db_name:
        env = {
            **ragtasks_env(mongo_url=mongo_server.url, db_name=db_name, broker_url=vhost.broker_url),
            "RAGTASKS_REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        }
        proc = procs.start_gateway(env, LOG_DIR)
        proc.extra["env"] = env
        yield proc
        proc.stop()
