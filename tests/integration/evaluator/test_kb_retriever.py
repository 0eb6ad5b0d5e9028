"""A retriever per knowledge base: ``PUT /v1/kbs/{kb_id}`` with an http retriever whose URL names
the KB (``{kb_id}``); the http retriever sends ``kb_id`` in the body too; an evaluation may name
its own retriever; the report records which one it measured (real worker, fake RAG service)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE, load_kb, wait_evaluation
from tests.integration.helpers import auth


def _start(api: TestClient, kb_id: str, **extra: Any) -> str:
    body = {"kb_id": kb_id, "sample_size": 8, "k": [1, 5, 10], "seed": 1, **extra}
    r = api.post("/v1/evaluations", json=body, headers=auth())
    assert r.status_code == 202, r.text
    return str(r.json()["evaluation_id"])


def test_each_kb_is_measured_with_its_own_retriever(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever
) -> None:
    # The deployment's default is bm25; the token is the deployment's secret, never stored per KB.
    env = {**worker_env, "RAGTASKS_RETRIEVER": "bm25", "RAGTASKS_RETRIEVER_AUTH_HEADER": "Bearer secret-token"}
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "kb-a", LEE[:40])
    load_kb(api, "kb-b", LEE[40:80])
    spec = {
        "kind": "http",
        "url": fake_retriever.base + "/kbs/{kb_id}/retrieve",
        "ids_field": "results.*.chunk_id",
        "top_k": 15,
    }
    put = api.put("/v1/kbs/kb-a", json={"retriever": spec}, headers=auth())
    assert put.status_code == 200, put.text
    assert put.json()["retriever"] == spec and put.json()["chunks"] == 40

    a = wait_evaluation(api, _start(api, "kb-a"))
    assert a["status"] == "done" and a["retriever"] == "http", a
    assert a["retriever_config"] == spec and a["top_k"] == 15
    assert fake_retriever.calls == [("/kbs/kb-a/retrieve", "kb-a")] * 8 and fake_retriever.invalid == []
    assert a["metrics"]["hit_rate@10"] >= 0.75, a["metrics"]

    b = wait_evaluation(api, _start(api, "kb-b"))
    assert b["retriever"] == "bm25" and b["retriever_config"] == {"kind": "bm25", "top_k": 10}
    # An evaluation naming its own retriever overrides the KB's.
    own = wait_evaluation(api, _start(api, "kb-a", retriever={"kind": "bm25", "top_k": 12}))
    assert own["retriever_config"] == {"kind": "bm25", "top_k": 12} and own["top_k"] == 12
    assert len(fake_retriever.calls) == 8
    # Different retrievers measure different things: never compared with each other.
    assert own["comparison"]["previous_evaluation_id"] is None

    # Back to the deployment's retriever.
    assert api.put("/v1/kbs/kb-a", json={"retriever": None}, headers=auth()).json()["retriever"] is None
    again = wait_evaluation(api, _start(api, "kb-a"))
    assert again["retriever"] == "bm25" and len(fake_retriever.calls) == 8


@pytest.mark.parametrize(
    "body",
    [
        {"retriever": {"kind": "http", "url": "http://rag/{kb}/retrieve"}},
        {"retriever": {"kind": "http", "url": "ftp://rag/retrieve"}},
        {"retriever": {"kind": "bm25", "url": "http://rag/retrieve"}},
        {"retriever": {"kind": "elastic"}},
        {"retriever": {"kind": "http", "auth_header": "Bearer x"}},
        {"retriever": {"kind": "vector", "top_k": 5000}},
        {},
    ],
)
def test_a_bad_retriever_spec_is_a_clear_422(api: TestClient, body: dict[str, Any]) -> None:
    r = api.put("/v1/kbs/kb-x", json=body, headers=auth())
    assert r.status_code == 422, r.text
    bad = api.post("/v1/evaluations", json={"kb_id": "kb-x", "sample_size": 1, **body}, headers=auth())
    assert bad.status_code in (404, 422), bad.text  # the KB does not exist either way


def test_an_http_retriever_without_any_url_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(retriever="bm25")
    load_kb(client, "no-url", LEE[:3])
    r = client.post(
        "/v1/evaluations",
        json={"kb_id": "no-url", "sample_size": 2, "retriever": {"kind": "http"}},
        headers=auth(),
    )
    assert r.status_code == 422 and "url" in r.text, r.text
    assert client.put("/v1/kbs/no-url", json={"retriever": {"kind": "http"}}, headers=auth()).status_code == 422
