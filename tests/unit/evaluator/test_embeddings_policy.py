"""Embeddings follow the chat calls' policy: a limiter slot before each call, errors classified as
transient or permanent, no retries of the client's own (the task retries with the policy's backoff).

Driven through the real ``openai`` client against the local OpenAI double.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragtasks_core.llm import PermanentLLMError, TransientLLMError
from ragtasks_core.llm_policy import LLMDeferred
from ragtasks_core.settings import Settings
from ragtasks_evaluator.retrievers import VectorRetriever
from ragtasks_evaluator.vectors import IndexedChunk, OpenAIEmbedder, QdrantIndex, build_embedder
from tests.support.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def _embedder(fake: FakeOpenAI, gate: object = None, batch_size: int = 2) -> OpenAIEmbedder:
    settings = Settings(embeddings_base_url=fake.base_url, embeddings_model="fake-embed", llm_timeout_seconds=5)
    embedder = build_embedder(settings, gate)  # type: ignore[arg-type]
    assert isinstance(embedder, OpenAIEmbedder)
    embedder.batch_size = batch_size
    return embedder


def _embedding_requests(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/embeddings"))


def test_a_slot_is_taken_before_every_call(fake: FakeOpenAI) -> None:
    slots: list[int] = []
    vectors = _embedder(fake, gate=lambda: slots.append(1)).embed(["a", "b", "c", "d", "e"])
    assert len(vectors) == 5 and len(slots) == 3 == _embedding_requests(fake)  # batches of 2


def test_a_full_limiter_defers_before_calling(fake: FakeOpenAI) -> None:
    def full() -> None:
        raise LLMDeferred(4.0)

    with pytest.raises(LLMDeferred):
        _embedder(fake, gate=full).embed(["a"])
    assert _embedding_requests(fake) == 0


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(status=503), TransientLLMError),
        (Reply(status=429, retry_after="7"), TransientLLMError),
        (Reply(status=401), PermanentLLMError),
    ],
)
def test_errors_are_classified_like_chat_and_not_retried_by_the_client(
    fake: FakeOpenAI, reply: Reply, error: type[Exception]
) -> None:
    fake.push(reply)
    with pytest.raises(error) as caught:
        _embedder(fake).embed(["a"])
    assert _embedding_requests(fake) == 1  # the policy retries (in the broker), not the client
    if reply.retry_after:
        assert isinstance(caught.value, TransientLLMError) and caught.value.retry_after == 7


def test_a_vector_search_passes_embedding_failures_to_the_task(fake: FakeOpenAI) -> None:
    from qdrant_client import QdrantClient

    index = QdrantIndex(QdrantClient(location=":memory:"), _embedder(fake))
    index.align("kb", [IndexedChunk("c1", "退货运费由买家承担", "h1")])
    fake.push(Reply(status=503))
    with pytest.raises(TransientLLMError):  # not a RetrievalError: the batch retries with backoff
        VectorRetriever(index, "kb").search("退货运费", 5)
    assert VectorRetriever(index, "kb").search("退货运费", 5) == ["c1"]
