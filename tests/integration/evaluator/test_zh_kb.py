"""The Chinese KB (tests/data/zh_kb) through a real evaluator worker: the maintenance task merges
exactly the ten near-duplicate pairs, and an evaluation writes Chinese questions shorter than
half their chunk and finds their chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.documents.chunks import COLLECTION as KB_CHUNKS
from ragtasks_core.documents.evaluations import ROWS as EVALUATION_ROWS
from ragtasks_core.settings import Settings
from ragtasks_core.text import language_of
from ragtasks_evaluator.corpus import load_zh_kb
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth

KB = load_zh_kb()


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def test_maintenance_merges_every_chinese_near_duplicate_and_evaluation_asks_in_chinese(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any, db: Any
) -> None:
    start_worker("evaluator", {**worker_env, "RAGTASKS_DEDUP_THRESHOLD": "0.9"}, concurrency=1)
    rows = KB.chunks + KB.near_duplicates
    load_kb(api, "zh-kb", [{k: c[k] for k in ("chunk_id", "doc_id", "text")} for c in rows])

    result = celery_client.send_task(TaskName.MAINTAIN_KB.value, kwargs={"kb_id": "zh-kb"}).get(timeout=120)
    assert result["zh-kb"] == {"chunks": 65, "active": 55, "merged": 10, "changed": 20}
    merged_into = {d["chunk_id"]: d.get("merged_into") for d in db[KB_CHUNKS].find({"kb_id": "zh-kb"})}
    expected = {}
    for dup in KB.near_duplicates:
        keeper, merged = sorted([dup["of"], dup["chunk_id"]])
        expected[merged] = keeper
    assert {m: k for m, k in merged_into.items() if k} == expected  # no distinct chunk merged
    m = api.get("/v1/kbs/zh-kb", headers=auth()).json()["last_maintenance"]
    assert (m["merged_exact"], m["merged_near"]) == (4, 6)  # width, whitespace, case: exact once canonical

    evaluation_id = start_evaluation(api, "zh-kb", sample_size=55, seed=3, k=[1, 5, 10])
    report = wait_evaluation(api, evaluation_id, timeout=120)
    assert report["status"] == "done" and report["retriever"] == "bm25", report
    text = {d["chunk_id"]: d["text"] for d in db[KB_CHUNKS].find({"kb_id": "zh-kb"})}
    written = list(db[EVALUATION_ROWS].find({"evaluation_id": evaluation_id}))
    assert len(written) == 55
    for row in written:
        assert language_of(row["question"]) == "zh" and 2 * len(row["question"]) < len(text[row["chunk_id"]]), row
    print(f"\nzh_kb offline questions, BM25 through the worker: {report['metrics']}")
    assert report["metrics"]["hit_rate@5"] >= 0.9
