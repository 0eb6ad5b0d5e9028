"""Bounded responses: the report is a summary, rows are paged (limit <= 500) and exported as a
streamed CSV, and a row keeps at most the largest k of ids (real worker, http retriever)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth


def test_summary_paged_rows_and_a_streamed_csv(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever
) -> None:
    env = {
        **worker_env,
        **fake_retriever.env(),
        "RAGTASKS_RETRIEVER_TOP_K": "25",  # asked for 25 ids; a row keeps 5, the largest k
    }
    start_worker("evaluator", env, concurrency=2)
    load_kb(api, "paged", LEE[:80])
    evaluation_id = start_evaluation(api, "paged", 30, seed=5, k=[1, 5])
    wait_evaluation(api, evaluation_id, rows=False)
    assert {kb for _, kb in fake_retriever.calls} == {"paged"} and fake_retriever.invalid == []
    assert set(fake_retriever.top_ks) == {25}

    summary = api.get(f"/v1/evaluations/{evaluation_id}", headers=auth())
    body = summary.json()
    assert body["status"] == "done" and "details" not in body and "chunk_ids" not in body
    assert len(summary.content) < 8_000, len(summary.content)  # a summary, whatever the rows
    assert body["rows"]["total"] == 30 and body["top_k"] == 25

    pages, offset = [], 0
    while offset is not None:
        page = api.get(f"/v1/evaluations/{evaluation_id}/rows", params={"offset": offset, "limit": 12}, headers=auth())
        assert page.status_code == 200, page.text
        pages.append(page.json())
        offset = page.json()["next_offset"]
    assert [len(p["rows"]) for p in pages] == [12, 12, 6] and pages[0]["total"] == 30
    rows = [r for p in pages for r in p["rows"]]
    assert [r["chunk_id"] for r in rows] == sorted({r["chunk_id"] for r in rows})
    assert all(len(r["retrieved"]) <= 5 and r["hit"] == (r["rank"] is not None) for r in rows)
    assert any(len(r["retrieved"]) == 5 for r in rows)

    for params in ({"limit": 501}, {"limit": 0}, {"offset": -1}):
        bad = api.get(f"/v1/evaluations/{evaluation_id}/rows", params=params, headers=auth())
        assert bad.status_code == 422, (params, bad.text)
    assert api.get("/v1/evaluations/ev-none/rows", headers=auth()).status_code == 404
    assert api.get("/v1/evaluations/ev-none/rows.csv", headers=auth()).status_code == 404
    past = api.get(f"/v1/evaluations/{evaluation_id}/rows", params={"offset": 40}, headers=auth()).json()
    assert past["rows"] == [] and past["next_offset"] is None

    export = api.get(f"/v1/evaluations/{evaluation_id}/rows.csv", headers=auth())
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "content-length" not in export.headers  # streamed (chunked), never built whole in memory
    table = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert [t["chunk_id"] for t in table] == [r["chunk_id"] for r in rows]
    for line, row in zip(table, rows, strict=True):
        assert line["question"] == row["question"] and line["retrieved"].split() == row["retrieved"]
        assert line["rank"] == ("" if row["rank"] is None else str(row["rank"])) and line["hit"] == str(int(row["hit"]))
    same = api.get(f"/v1/evaluations/{evaluation_id}/rows", params={"format": "csv"}, headers=auth())
    assert same.content == export.content
