"""Fixtures shared by every test tier.

Integration fixtures start *real* things: a Mongo server process, a RabbitMQ vhost of its own,
worker processes, the gateway; only the paid external APIs (OpenAI, WeCom) are local doubles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis as redis_lib
from pymongo import MongoClient

from ragtasks_core.settings import Settings
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_wecom import FakeWeCom
from tests.support.isolation import own_database, own_vhost, ragtasks_env
from tests.support.services import MongoServer, Vhost

if TYPE_CHECKING:  # the gateway's test client is imported by the fixture that uses it
    from fastapi.testclient import TestClient

LOG_DIR = Path(os.environ.get("RAGTASKS_TEST_LOG_DIR", "/tmp/ragtasks-test-logs"))


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[MongoServer]:
    server = MongoServer.start(LOG_DIR)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vhost() -> Iterator[Vhost]:
    with own_vhost() as vh:
        yield vh


@pytest.fixture
def base_env(mongo_server: MongoServer, vhost: Vhost) -> Iterator[dict[str, str]]:
    """RAGTASKS_* variables for one test: its own Mongo database and Redis key prefix, and empty
    work queues in the run's vhost."""
    vhost.purge_work_queues()
    with own_database(mongo_server.url) as db_name:
        yield ragtasks_env(mongo_url=mongo_server.url, db_name=db_name, broker_url=vhost.broker_url)


@pytest.fixture
def make_settings(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        for key, value in {**base_env, **{f"RAGTASKS_{k.upper()}": str(v) for k, v in overrides.items()}}.items():
            monkeypatch.setenv(key, value)
        return Settings()

    return build


@pytest.fixture
def client_for() -> Iterator[Callable[[Settings], TestClient]]:
    """Build in-process gateways (TestClient over ``create_app``) on given settings; each is shut
    down at teardown. A server error comes back as a 500 response, as a real client would see it."""
    from fastapi.testclient import TestClient

    from ragtasks_gateway.app import create_app

    clients: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> Callable[..., TestClient]:
    """``client_for`` on the test's settings with overrides (``make_client(retriever="bm25")``)."""

    def make(**overrides: Any) -> TestClient:
        return client_for(make_settings(**overrides))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def db(settings: Settings) -> Iterator[Any]:
    client: MongoClient = MongoClient(settings.mongodb_url, tz_aware=True)
    yield client[settings.mongodb_db]
    client.close()


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(settings.effective_redis_url, decode_responses=True)
    yield client
    # Large SCAN pages: the machine's Redis holds every run's keys (tens of thousands), which
    # the default page of 10 walks in hundreds of round trips.
    for key in client.scan_iter(f"{settings.key_prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    """A local double of the WeCom group robot (the only other paid external service)."""
    server = FakeWeCom().start()
    yield server
    server.stop()


@pytest.fixture
def celery_client(settings: Settings) -> Iterator[Any]:
    from ragtasks_core.celery_app import create_celery

    app = create_celery(settings)
    yield app
    app.close()


@pytest.fixture
def processes() -> Iterator[list[procs.Proc]]:
    """Started processes are stopped at teardown; their logs stay in LOG_DIR."""
    started: list[procs.Proc] = []
    yield started
    procs.stop_all(started)


@pytest.fixture
def worker_env(base_env: dict[str, str]) -> dict[str, str]:
    return dict(base_env)


@pytest.fixture
def start_worker(processes: list[procs.Proc]) -> Callable[..., procs.Proc]:
    def start(queue: str, env: dict[str, str], **kwargs: Any) -> procs.Proc:
        proc = procs.start_worker(queue, env, LOG_DIR, **kwargs)
        processes.append(proc)
        return proc

    return start


@pytest.fixture
def start_gateway(processes: list[procs.Proc]) -> Callable[..., procs.Proc]:
    def start(env: dict[str, str]) -> procs.Proc:
        proc = procs.start_gateway(env, LOG_DIR)
        processes.append(proc)
        return proc

    return start
