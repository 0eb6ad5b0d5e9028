"""The knowledge-base and evaluation API: idempotent upserts, counts, clear 4xx errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.helpers import auth


@pytest.fixture
def api(make_settings: object) -> Iterator[TestClient]:
    settings: Settings = make_settings(kb_max_chunks_per_request=3, kb_max_chunk_chars=50, eval_max_sample_size=10)  # type: ignore[operator]
    with TestClient(create_app(settings)) as client:
        yield client


CHUNKS: list[dict[str, Any]] = [
    {"chunk_id": "c1", "text": "alpha beta", "doc_id": "d1"},
    {"chunk_id": "c2", "text": "gamma delta", "doc_id": "d1", "metadata": {"page": 2}},
]


def test_upsert_is_idempotent_and_counts(api: TestClient) -> None:
    r = api.post("/v1/kbs/kb1/chunks", json={"chunks": CHUNKS}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"kb_id": "kb1", "received": 2, "inserted": 2, "updated": 0, "unchanged": 0, "version": 1}
    again = api.post("/v1/kbs/kb1/chunks", json={"chunks": CHUNKS}, headers=auth()).json()
    assert again["unchanged"] == 2 and again["inserted"] == 0 and again["version"] == 1
    changed = [{**CHUNKS[0], "text": "alpha beta changed"}]
    assert api.post("/v1/kbs/kb1/chunks", json={"chunks": changed}, headers=auth()).json()["updated"] == 1
    kb = api.get("/v1/kbs/kb1", headers=auth()).json()
    assert (kb["chunks"], kb["active_chunks"], kb["merged_chunks"], kb["documents"], kb["version"]) == (2, 2, 0, 1, 2)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"chunks": [{"chunk_id": f"c{i}", "text": "x"} for i in range(4)]}, 413, "at most 3 chunks"),
        ({"chunks": [{"chunk_id": "c1", "text": "x" * 51}]}, 413, "limit is 50"),
        ({"chunks": [{"chunk_id": "c1", "text": "x"}, {"chunk_id": "c1", "text": "y"}]}, 422, "appears twice"),
        ({"chunks": [{"chunk_id": "$bad", "text": "x"}]}, 422, "chunk_id"),
        ({"chunks": [{"chunk_id": "c1", "text": "   "}]}, 422, "blank"),
        ({"chunks": []}, 422, "chunks"),
        ({"chunks": [{"chunk_id": "c1", "text": "x", "metadata": {"$where": 1}}]}, 422, "metadata"),
    ],
)
def test_bad_chunks_are_4xx_with_a_reason(api: TestClient, body: dict[str, object], status: int, reason: str) -> None:
    r = api.post("/v1/kbs/kb1/chunks", json=body, headers=auth())
    assert r.status_code == status, r.text
    assert reason in r.text


def test_evaluation_requests_are_checked(api: TestClient) -> None:
    assert api.get("/v1/kbs/nope", headers=auth()).status_code == 404
    assert api.post("/v1/kbs/kb1/chunks", json={"chunks": CHUNKS}).status_code == 401
    r = api.post("/v1/evaluations", json={"kb_id": "nope", "sample_size": 5}, headers=auth())
    assert r.status_code == 404 and "not found" in r.text
    api.post("/v1/kbs/kb1/chunks", json={"chunks": CHUNKS}, headers=auth())
    r = api.post("/v1/evaluations", json={"kb_id": "kb1", "sample_size": 11}, headers=auth())
    assert r.status_code == 422 and "over the limit" in r.text
    r = api.post("/v1/evaluations", json={"kb_id": "kb1", "sample_size": 5, "k": [0]}, headers=auth())
    assert r.status_code == 422 and "between 1 and" in r.text
    assert api.get("/v1/evaluations/ev-missing", headers=auth()).status_code == 404
    r = api.post("/v1/evaluations", json={"kb_id": "kb1", "sample_size": 2, "k": [5, 1, 5]}, headers=auth())
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["task_id"] and body["evaluation_id"].startswith("ev-") and isinstance(body["seed"], int)
    got = api.get(f"/v1/evaluations/{body['evaluation_id']}", headers=auth()).json()
    assert got["status"] == "queued" and got["k"] == [1, 5] and got["progress"]["done"] == 0
