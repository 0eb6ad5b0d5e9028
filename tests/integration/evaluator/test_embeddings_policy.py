"""Embeddings under the chat calls' policy, on a real worker: a 503 from the embeddings endpoint
retries the maintenance task after the policy's backoff (in the broker), and a endpoint that keeps
failing makes it give up after ``RAGTASKS_LLM_MAX_RETRIES`` (fake OpenAI server, real RabbitMQ)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb
from tests.support.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _env(worker_env: dict[str, str], fake: FakeOpenAI, retries: int) -> dict[str, str]:
    return {
        **worker_env,
        "RAGTASKS_EMBEDDINGS_BASE_URL": fake.base_url,
        "RAGTASKS_EMBEDDINGS_MODEL": "fake-embed",
        "RAGTASKS_LLM_API_KEY": "sk-test",
        "RAGTASKS_LLM_RATE_LIMIT": "100/s",
        "RAGTASKS_LLM_BACKOFF_BASE_SECONDS": "1",
        "RAGTASKS_LLM_MAX_RETRIES": str(retries),
    }


def _embedding_calls(fake: FakeOpenAI) -> list[float]:
    return [r.at for r in fake.requests if r.path.endswith("/embeddings")]


def test_a_transient_embeddings_error_is_retried_after_the_backoff(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI, celery_client: Any, db: Any
) -> None:
    start_worker("evaluator", _env(worker_env, fake_llm, retries=3), concurrency=1)
    load_kb(api, "emb", LEE[:12])
    fake_llm.push(Reply(status=503))
    result = celery_client.send_task(TaskName.MAINTAIN_KB.value, kwargs={"kb_id": "emb"}).get(timeout=60)
    assert result["emb"]["active"] == 12
    calls = _embedding_calls(fake_llm)
    assert len(calls) >= 2 and calls[1] - calls[0] >= 0.9  # waited for the backoff (base 1 s)
    index = db.kbs.find_one({"_id": "emb"})["last_maintenance"]["index"]
    assert index["upserted"] == 12 and index["embedder"] == "openai:fake-embed"


def test_an_endpoint_that_keeps_failing_gives_up_after_the_retries(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI, celery_client: Any
) -> None:
    start_worker("evaluator", _env(worker_env, fake_llm, retries=1), concurrency=1)
    load_kb(api, "emb-down", LEE[:5])
    fake_llm.push(*[Reply(status=503)] * 5)
    task = celery_client.send_task(TaskName.MAINTAIN_KB.value, kwargs={"kb_id": "emb-down"})
    with pytest.raises(Exception, match="gave up after 1 retries"):
        task.get(timeout=60)
    assert len(_embedding_calls(fake_llm)) == 2  # the first call and one retry, never the client's own
