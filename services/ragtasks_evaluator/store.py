"""Mongo side of the evaluator (sync PyMongo in the worker).

Correctness rests on single-document atomic updates only:
- the sample is written once, by compare-and-set on ``chunk_ids`` not existing, so racing or
  redelivered ``run_evaluation`` tasks agree on one sample;
- each row is keyed ``(evaluation_id, chunk_id, question_index)`` and replaced whole, so a re-run
  batch rewrites the same rows instead of adding more;
- finished batches are a set (``$addToSet``), so a batch that runs twice counts once, and the
  report is written by compare-and-set on ``status != done``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.database import Database
from pymongo.errors import OperationFailure

from ragtasks_core import documents
from ragtasks_core.documents import chunks as chunk_docs
from ragtasks_core.documents import evaluations, kbs, merges, queries
from ragtasks_core.documents.evaluations import DONE, FAILED

# The collections (names, indexes, shapes) are ``ragtasks_core.documents``'s.
KBS = kbs.COLLECTION
KB_CHUNKS = chunk_docs.COLLECTION
KB_QUERIES = queries.COLLECTION
KB_MERGES = merges.COLLECTION
EVALUATIONS = evaluations.COLLECTION
EVALUATION_ROWS = evaluations.ROWS

# The rows' unique index before a chunk could have several questions: it would refuse the second.
LEGACY_ROW_INDEX = "evaluation_id_1_chunk_id_1"


def ensure_indexes(db: Database) -> None:
    """Every index is declared once, in ``ragtasks_core.documents``; the evaluator's tasks create
    them once per process (``Runtime.set_up_once``) through this name, and drop the legacy one."""
    documents.ensure_indexes(db)
    if LEGACY_ROW_INDEX in db[EVALUATION_ROWS].index_information():
        with contextlib.suppress(OperationFailure):  # another worker process dropped it first
            db[EVALUATION_ROWS].drop_index(LEGACY_ROW_INDEX)


def now() -> datetime:
    return datetime.now(UTC)


# --- knowledge bases ---------------------------------------------------------------------------


def kb_ids(db: Database) -> list[str]:
    return sorted(str(d["_id"]) for d in db[KBS].find({}, {"_id": 1}))


def kb_version(db: Database, kb_id: str) -> int | None:
    doc = db[KBS].find_one({"_id": kb_id}, {"version": 1})
    return None if doc is None else int(doc.get("version") or 0)


def kb_retriever(db: Database, kb_id: str) -> dict[str, Any] | None:
    """The KB's own retriever spec (``PUT /v1/kbs/{kb_id}``), or None: the settings' retriever."""
    doc = db[KBS].find_one({"_id": kb_id}, {"retriever": 1})
    spec = (doc or {}).get("retriever")
    return spec if isinstance(spec, dict) else None


def bump_kb_version(db: Database, kb_id: str) -> None:
    db[KBS].update_one({"_id": kb_id}, {"$inc": {"version": 1}, "$set": {"updated_at": now()}})


def active_chunk_ids(db: Database, kb_id: str) -> list[str]:
    """Chunks that stand for themselves (not merged into another one)."""
    cursor = db[KB_CHUNKS].find({"kb_id": kb_id, "merged_into": None}, {"chunk_id": 1, "_id": 0})
    return sorted(d["chunk_id"] for d in cursor)


def chunks(
    db: Database, kb_id: str, *, active_only: bool, chunk_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"kb_id": kb_id}
    if active_only:
        query["merged_into"] = None
    if chunk_ids is not None:
        query["chunk_id"] = {"$in": list(chunk_ids)}
    fields = {"_id": 1, "chunk_id": 1, "text": 1, "hash": 1, "merged_into": 1, "merged_ids": 1}
    return list(db[KB_CHUNKS].find(query, fields).sort("chunk_id", ASCENDING))


def labelled_query_ids(db: Database, kb_id: str) -> list[str]:
    """The ids of the KB's labelled queries (``POST /v1/kbs/{kb_id}/queries``, ``ragtasks eval import``)."""
    return sorted(d["query_id"] for d in db[KB_QUERIES].find({"kb_id": kb_id}, {"query_id": 1, "_id": 0}))


def labelled_queries(db: Database, kb_id: str, query_ids: Sequence[str]) -> list[dict[str, Any]]:
    query = {"kb_id": kb_id, "query_id": {"$in": list(query_ids)}}
    return list(db[KB_QUERIES].find(query, {"_id": 0, "query_id": 1, "query": 1, "relevant": 1}))


def apply_merges(db: Database, kb_id: str, current: list[dict[str, Any]], groups: dict[str, list[str]]) -> int:
    """Set ``merged_into`` / ``merged_ids`` to match ``groups``; write only what differs. Text is kept."""
    into = {merged: keeper for keeper, ids in groups.items() for merged in ids}
    ops, events = [], []
    version = kb_version(db, kb_id) or 0
    for doc in current:
        want_into = into.get(doc["chunk_id"])
        want_ids = groups.get(doc["chunk_id"], [])
        if doc.get("merged_into") != want_into or list(doc.get("merged_ids") or []) != want_ids:
            ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"merged_into": want_into, "merged_ids": want_ids}}))
        if doc.get("merged_into") != want_into:
            events.append(_merge_event(kb_id, doc["chunk_id"], doc.get("merged_into"), want_into, version))
    if events:  # logged first, with ids a re-run after a failed write reproduces (no duplicates)
        db[KB_MERGES].bulk_write(
            [UpdateOne({"_id": e["_id"]}, {"$setOnInsert": e}, upsert=True) for e in events], ordered=False
        )
    if ops:
        db[KB_CHUNKS].bulk_write(ops, ordered=False)
    return len(ops)


def _merge_event(kb_id: str, chunk_id: str, before: str | None, after: str | None, version: int) -> dict[str, Any]:
    """One line of ``kb_merges`` (``GET /v1/kbs/{kb_id}/merges``): ``chunk_id`` now stands for
    itself (``merged_into`` None: unmerged) or for its keeper, since ``at``."""
    return merges.new_event(kb_id, chunk_id, before, after, version, now())


def record_maintenance(db: Database, kb_id: str, report: dict[str, Any]) -> None:
    db[KBS].update_one({"_id": kb_id}, {"$set": {"last_maintenance": report}})


# --- evaluations -------------------------------------------------------------------------------


def load_evaluation(db: Database, evaluation_id: str) -> dict[str, Any] | None:
    return db[EVALUATIONS].find_one({"_id": evaluation_id})


def create_evaluation(db: Database, doc: dict[str, Any]) -> bool:
    """Insert unless it exists; False when it was there already."""
    result = db[EVALUATIONS].update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)
    return result.upserted_id is not None


def set_sample(db: Database, evaluation_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Write the sample once (first writer wins) and return the evaluation as it now stands."""
    db[EVALUATIONS].update_one({"_id": evaluation_id, "chunk_ids": {"$exists": False}}, {"$set": fields})
    return load_evaluation(db, evaluation_id)


def rows_for(db: Database, evaluation_id: str, chunk_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"evaluation_id": evaluation_id}
    if chunk_ids is not None:
        query["chunk_id"] = {"$in": list(chunk_ids)}
    return list(db[EVALUATION_ROWS].find(query, {"_id": 0}))


def write_rows(db: Database, rows: list[dict[str, Any]]) -> None:
    if rows:
        db[EVALUATION_ROWS].bulk_write(
            [UpdateOne(evaluations.row_key(r), {"$set": r}, upsert=True) for r in rows],
            ordered=False,
        )


def mark_batch_done(db: Database, evaluation_id: str, batch: int) -> dict[str, Any] | None:
    return db[EVALUATIONS].find_one_and_update(
        {"_id": evaluation_id},
        {"$addToSet": {"done_batches": batch}, "$set": {"updated_at": now()}},
        return_document=ReturnDocument.AFTER,
    )


def previous_report(db: Database, evaluation: dict[str, Any], before: datetime) -> dict[str, Any] | None:
    """The latest finished report comparable with ``evaluation``: same KB, same retriever, same
    question writer, and the same ``comparison_key`` (``logic.COMPARABLE_FIELDS``: retriever
    config, questions, seed, size, k). An ad-hoc run against another retriever, or with offline
    instead of LLM questions, measures something else; comparing with it would raise a false
    recall drop."""
    return db[EVALUATIONS].find_one(
        {
            "kb_id": evaluation["kb_id"],
            "retriever": evaluation.get("retriever"),
            "question_generator": evaluation.get("question_generator"),
            "comparison_key": evaluation.get("comparison_key"),
            "status": DONE,
            "_id": {"$ne": evaluation["_id"]},
            "finished_at": {"$lte": before},
        },
        sort=[("finished_at", DESCENDING)],
    )


def baseline_report(db: Database, evaluation: dict[str, Any]) -> dict[str, Any] | None:
    """The KB's pinned baseline (``POST /v1/evaluations/{id}/baseline`` sets ``kbs.baseline``),
    if it is a finished report comparable with ``evaluation`` (same ``comparison_key``)."""
    kb = db[KBS].find_one({"_id": evaluation["kb_id"]}, {"baseline": 1}) or {}
    pinned = (kb.get("baseline") or {}).get("evaluation_id")
    if not pinned or pinned == evaluation["_id"]:
        return None
    return db[EVALUATIONS].find_one({"_id": pinned, "status": DONE, "comparison_key": evaluation.get("comparison_key")})


def finish(db: Database, evaluation_id: str, fields: dict[str, Any]) -> bool:
    """Write the report once; False if another finalizer already did."""
    result = db[EVALUATIONS].update_one(
        {"_id": evaluation_id, "status": {"$ne": DONE}}, {"$set": {**fields, "status": DONE}}
    )
    return result.modified_count == 1


def set_fields(db: Database, evaluation_id: str, fields: dict[str, Any]) -> None:
    db[EVALUATIONS].update_one({"_id": evaluation_id}, {"$set": fields})


def fail(db: Database, evaluation_id: str, error: str, task: str) -> bool:
    """Mark an unfinished evaluation failed, with the reason; a finished report is never touched."""
    result = db[EVALUATIONS].update_one(
        {"_id": evaluation_id, "status": {"$ne": DONE}},
        {"$set": {"status": FAILED, "error": error[:500], "failed_task": task, "failed_at": now()}},
    )
    return result.modified_count == 1


def reopen(db: Database, evaluation_id: str, status: str) -> dict[str, Any] | None:
    """A re-run of a failed evaluation: back to ``status`` (compare-and-set), error cleared."""
    db[EVALUATIONS].update_one(
        {"_id": evaluation_id, "status": FAILED},
        {"$set": {"status": status}, "$unset": {"error": "", "failed_task": "", "failed_at": ""}},
    )
    return load_evaluation(db, evaluation_id)


def count_continuation(db: Database, evaluation_id: str) -> None:
    db[EVALUATIONS].update_one({"_id": evaluation_id}, {"$inc": {"continuations": 1}})
