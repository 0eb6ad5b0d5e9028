"""Fixtures the evaluator's integration tests share: the gateway in-process, the fake RAG service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def retriever_chunks() -> list[dict[str, str]]:
    """The chunks the fake RAG service holds: all of Lee, unless a module overrides this fixture."""
    return LEE


@pytest.fixture
def fake_retriever(retriever_chunks: list[dict[str, str]]) -> Iterator[FakeRetriever]:
    fake = FakeRetriever(retriever_chunks).start()
    yield fake
    fake.stop()
