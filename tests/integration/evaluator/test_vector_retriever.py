"""The built-in vector retriever end to end: nightly maintenance aligns the index, then an evaluation.

Two legs, each a real worker: embeddings from an OpenAI-compatible endpoint (the fake OpenAI
server's ``/v1/embeddings``), and the offline hashing embedder. The fake's vectors are 16 counts
of character positions -- they carry no meaning, so that leg checks the wiring (requests reach the
endpoint, the index is aligned, every row is scored); the offline embedder shows a sensible rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, wait_evaluation
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _nightly(celery_client: Any, api: TestClient, kb_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run nightly for ``kb_id``; its maintenance report and its evaluation report."""
    celery_client.send_task(TaskName.NIGHTLY.value, kwargs={"kb_ids": [kb_id]}).get(timeout=60)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    report = wait_evaluation(api, f"nightly-{day}-{kb_id}", appears=True)
    return api.get(f"/v1/kbs/{kb_id}", headers=auth()).json()["last_maintenance"], report


def test_vector_retriever_with_an_embeddings_endpoint_and_offline(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any, fake_llm: FakeOpenAI
) -> None:
    env = {**worker_env, "RAGTASKS_RETRIEVER": "vector", "RAGTASKS_EVAL_SAMPLE_SIZE": "12"}
    # Each query's embedding takes a slot of the LLM rate limit: at the default 10/m the 12 rows
    # would wait 66 s for nothing this test checks (the limit has tests of its own).
    env["RAGTASKS_LLM_RATE_LIMIT"] = "100/s"
    load_kb(api, "vec-api", LEE[:40])
    load_kb(api, "vec-offline", LEE[:40])

    endpoint = start_worker("evaluator", {**env, "RAGTASKS_EMBEDDINGS_BASE_URL": fake_llm.base_url}, concurrency=1)
    maintenance, report = _nightly(celery_client, api, "vec-api")
    assert maintenance["index"]["upserted"] == 40 and maintenance["index"]["deleted"] == 0
    assert maintenance["index"]["embedder"] == "openai:text-embedding-3-small"
    embedded = [r for r in fake_llm.requests if r.path.endswith("/embeddings")]
    assert sum(len(r.body["input"]) for r in embedded) >= 40 + 12  # every chunk, then every question
    assert report["status"] == "done" and report["retriever"] == "vector" and report["counts"]["rows"] == 12
    assert report["counts"]["retrieval_errors"] == 0
    assert all(len(d["retrieved"]) == 10 for d in report["details"])  # top_k 10 of 40 indexed chunks
    endpoint.stop()

    start_worker("evaluator", env, concurrency=1)
    maintenance, report = _nightly(celery_client, api, "vec-offline")
    assert maintenance["index"]["upserted"] == 40 and maintenance["index"]["embedder"].startswith("hashing")
    assert report["status"] == "done" and report["counts"]["rows"] == 12
    assert report["metrics"]["hit_rate@10"] >= 0.9, report["metrics"]  # measured offline: 1.0
