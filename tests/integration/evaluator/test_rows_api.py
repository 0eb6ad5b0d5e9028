"""A large report through the gateway (real Mongo server): the summary stays small, rows come in
pages of at most 500, and the CSV export streams all of them. The rows are written here as the
evaluator writes them (``Row.document``), 1,200 of them with k up to 1000 ids each."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_evaluator.evaluation import Row
from ragtasks_gateway.app import create_app
from tests.integration.helpers import auth

ROWS, K = 1200, 1000


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _report(db: Any) -> None:
    ids = [f"c{i:05d}" for i in range(ROWS)]
    db.evaluations.insert_one(
        {
            "_id": "ev-big",
            "kb_id": "big",
            "status": "done",
            "k": [1, K],
            "chunk_ids": ids,
            "total": ROWS,
            "batches": 60,
            "done_batches": list(range(60)),
            "metrics": {"hit_rate@1": 0.5},
            "created_at": datetime.now(UTC),
        }
    )
    retrieved = [f"x{j}" for j in range(1500)]  # the retriever answered more than the largest k
    docs = []
    for n, chunk_id in enumerate(ids):
        row = Row("ev-big", n // 20, chunk_id, f'问题 {n}, "quoted"?', "offline-keywords-v2", [chunk_id, *retrieved])
        row.rank = 1 if n % 2 == 0 else None
        docs.append(row.document(K))
    db.evaluation_rows.insert_many(docs)


def test_a_large_report_is_a_small_summary_paged_rows_and_a_streamed_csv(api: TestClient, db: Any) -> None:
    _report(db)
    summary = api.get("/v1/evaluations/ev-big", headers=auth())
    assert summary.status_code == 200 and len(summary.content) < 4_000, len(summary.content)
    assert summary.json()["rows"]["total"] == ROWS and "details" not in summary.json()

    page = api.get("/v1/evaluations/ev-big/rows", params={"offset": 1000, "limit": 500}, headers=auth()).json()
    assert len(page["rows"]) == 200 and page["next_offset"] is None and page["total"] == ROWS
    assert all(len(r["retrieved"]) == K for r in page["rows"])  # max(k) ids, never the 1,501 returned
    first = api.get("/v1/evaluations/ev-big/rows", params={"limit": 500}, headers=auth()).json()
    assert first["next_offset"] == 500 and first["rows"][0]["chunk_id"] == "c00000"
    assert api.get("/v1/evaluations/ev-big/rows", params={"limit": 501}, headers=auth()).status_code == 422

    with api.stream("GET", "/v1/evaluations/ev-big/rows.csv", headers=auth()) as export:
        assert export.status_code == 200 and "content-length" not in export.headers
        chunks = list(export.iter_bytes())
    assert len(chunks) > 1  # sent in pieces as it is read from Mongo
    table = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(table) == ROWS and table[1]["question"] == '问题 1, "quoted"?'
    assert table[0]["rank"] == "1" and table[0]["hit"] == "1" and table[1]["rank"] == "" and table[1]["hit"] == "0"
    assert len(table[0]["retrieved"].split()) == K
