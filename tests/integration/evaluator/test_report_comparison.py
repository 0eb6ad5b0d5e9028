"""Which earlier report a finished evaluation is compared with (against the real Mongo server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ragtasks_core.documents.evaluations import COLLECTION as EVALUATIONS
from ragtasks_evaluator import store

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def report(db: Any, _id: str, hours: int, *, retriever: str = "bm25", generator: str = "llm", **extra: Any) -> None:
    db[EVALUATIONS].insert_one(
        {
            "_id": _id,
            "kb_id": "kb-1",
            "status": store.DONE,
            "retriever": retriever,
            "question_generator": generator,
            "finished_at": T0 + timedelta(hours=hours),
            **extra,
        }
    )


def test_only_a_report_of_the_same_retriever_and_question_writer_is_compared(db: Any) -> None:
    store.ensure_indexes(db)
    report(db, "nightly-1", 0)
    report(db, "adhoc-offline", 1, generator="offline-keywords-v1")
    report(db, "adhoc-http", 2, retriever="http")
    report(db, "other-kb", 3, kb_id="kb-2")
    report(db, "failed", 4, status="failed")
    current = {"_id": "nightly-2", "kb_id": "kb-1", "retriever": "bm25", "question_generator": "llm"}
    previous = store.previous_report(db, current, T0 + timedelta(days=1))
    assert previous is not None and previous["_id"] == "nightly-1"
    # An ad-hoc offline run finds its own kind only.
    offline = {"_id": "adhoc-2", "kb_id": "kb-1", "retriever": "bm25", "question_generator": "offline-keywords-v1"}
    found = store.previous_report(db, offline, T0 + timedelta(days=1))
    assert found is not None and found["_id"] == "adhoc-offline"
    # Nothing comparable: no comparison, hence no recall-drop alert.
    vector = {"_id": "v-1", "kb_id": "kb-1", "retriever": "vector", "question_generator": "llm"}
    assert store.previous_report(db, vector, T0 + timedelta(days=1)) is None
