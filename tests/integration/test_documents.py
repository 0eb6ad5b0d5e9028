"""The Mongo documents package against the real server: every declared index is created (the KB
indexes once, for the gateway and the evaluator alike), and the threshold rule means the same as a
query (the sweep's) and on a document in hand (the gateway's append)."""

from __future__ import annotations

from typing import Any

from ragtasks_core import documents
from ragtasks_core.documents import sessions


def _keys(db: Any, collection: str) -> dict[tuple[tuple[str, int], ...], dict[str, Any]]:
    return {tuple((k, int(v)) for k, v in i["key"].items()): i for i in db[collection].list_indexes()}


def test_every_declared_index_exists_once_created(db: Any) -> None:
    documents.ensure_indexes(db)
    documents.ensure_indexes(db)  # idempotent
    for index in documents.INDEXES:
        found = _keys(db, index.collection)[tuple(index.keys)]
        for option, value in index.options.items():
            assert found[option] == value, (index, found)
    # The index the gateway's KB store used to leave out (the previous comparable report).
    assert (("kb_id", 1), ("status", 1), ("finished_at", -1)) in _keys(db, documents.evaluations.COLLECTION)
    assert _keys(db, documents.chunks.COLLECTION)[(("kb_id", 1), ("chunk_id", 1))]["unique"]
    fingerprint = _keys(db, documents.alerts.ALERTS)[(("fingerprint", 1),)]
    assert fingerprint["unique"] and fingerprint["partialFilterExpression"] == {"open": True}


def test_the_threshold_rule_is_the_same_as_a_query_and_on_a_document(db: Any) -> None:
    pending = {"task_id": "t", "reason": "threshold", "requested_at": None, "published": False}
    docs = [
        {"_id": f"s{i}", "tokens_since_summary": tokens, "summary_pending": slot}
        for i, (tokens, slot) in enumerate(
            [(t, s) for t in (0, 99, 100, 101, 5000) for s in (None, pending)] + [(100, None), (-3, None)]
        )
    ]
    db[sessions.COLLECTION].insert_many(docs)
    by_query = {d["_id"] for d in db[sessions.COLLECTION].find(sessions.past_threshold_filter(100), {"_id": 1})}
    in_hand = {d["_id"] for d in docs if sessions.past_threshold(d, 100)}
    # 100, 101, 5000 and the second 100, each with an empty slot.
    assert by_query == in_hand and len(in_hand) == 4
