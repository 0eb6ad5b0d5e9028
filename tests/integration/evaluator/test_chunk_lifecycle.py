"""Chunk lifecycle: chunks are deleted one by one or in bulk, are no longer sampled, and leave the
vector index at the next alignment; ``GET /v1/kbs/{kb_id}/merges?since=`` lists what maintenance
merged into what (real worker, built-in vector index, Mongo server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _maintain(celery_client: Any, kb_id: str) -> None:
    celery_client.send_task(TaskName.MAINTAIN_KB.value, kwargs={"kb_id": kb_id}).get(timeout=60)


def test_deleted_chunks_leave_the_sample_and_the_index_and_merges_are_listed(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any, db: Any
) -> None:
    start_worker("evaluator", {**worker_env, "RAGTASKS_RETRIEVER": "vector"}, concurrency=1)
    chunks = [dict(c) for c in LEE[:20]]
    chunks.append({"chunk_id": "zz-copy-of-0", "text": chunks[0]["text"]})  # merged into lee-... at maintenance
    load_kb(api, "life", chunks)
    _maintain(celery_client, "life")
    keeper = chunks[0]["chunk_id"]
    merges = api.get("/v1/kbs/life/merges", headers=auth()).json()
    assert [(m["chunk_id"], m["merged_into"], m["previous"]) for m in merges["merges"]] == [
        ("zz-copy-of-0", keeper, None)
    ]
    assert api.get("/v1/kbs/life/merges", params={"since": merges["next_since"]}, headers=auth()).json()["merges"] == []
    index = db.kbs.find_one({"_id": "life"})["last_maintenance"]["index"]
    assert index["upserted"] == 20  # the 20 active chunks (the copy is merged)

    # One by one, then in bulk; unknown ids are a 404 alone, and listed in bulk.
    one = chunks[1]["chunk_id"]
    r = api.delete(f"/v1/kbs/life/chunks/{one}", headers=auth())
    assert r.status_code == 200 and r.json()["deleted"] == [one], r.text
    assert api.delete(f"/v1/kbs/life/chunks/{one}", headers=auth()).status_code == 404
    bulk = [chunks[2]["chunk_id"], chunks[3]["chunk_id"], "never-existed"]
    r = api.post("/v1/kbs/life/chunks:delete", json={"chunk_ids": bulk}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == sorted(bulk[:2]) and r.json()["not_found"] == ["never-existed"]
    assert api.post("/v1/kbs/life/chunks:delete", json={"chunk_ids": []}, headers=auth()).status_code == 422
    assert api.post("/v1/kbs/life/chunks:delete", json={"chunk_ids": ["$bad"]}, headers=auth()).status_code == 422

    # Deleting the keeper: its copy stands for itself again, at once.
    assert api.delete(f"/v1/kbs/life/chunks/{keeper}", headers=auth()).status_code == 200
    stats = api.get("/v1/kbs/life", headers=auth()).json()
    assert stats["chunks"] == 17 and stats["active_chunks"] == 17

    # The next alignment drops the 4 deleted chunks from the vector index and adds the un-merged copy.
    _maintain(celery_client, "life")
    index = db.kbs.find_one({"_id": "life"})["last_maintenance"]["index"]
    assert (index["deleted"], index["upserted"], index["unchanged"]) == (4, 1, 16), index

    gone = {one, *bulk[:2], keeper}
    report = wait_evaluation(api, start_evaluation(api, "life", 100, seed=1))
    assert report["status"] == "done" and report["total"] == 17, report
    assert not gone & {d["chunk_id"] for d in report["details"]}
    assert not gone & {i for d in report["details"] for i in d["retrieved"]}  # not in the index either
    assert (
        api.get("/v1/kbs/life/merges", params={"since": merges["next_since"]}, headers=auth()).json()["merges"] == []
    )  # the copy was un-merged by the delete, not by maintenance
