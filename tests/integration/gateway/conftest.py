"""Gateway API tests: an in-process app (TestClient) against the real Mongo, Redis and broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.support.services import Vhost, check_reachable, redis_url


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
