"""The ``evaluations`` and ``evaluation_rows`` collections: recall evaluations of a knowledge base.

An evaluation: ``{_id, kb_id, status, sample_size, k, seed, trigger, task_id?, created_by?,
created_at, maintenance_error?}`` when requested (by the API or nightly, :func:`new_evaluation`), then the
evaluator adds the sample (``chunk_ids``), progress (``done_batches``) and the report.
A row: one per ``(evaluation_id, chunk_id, question_index)`` (a chunk's ``questions_per_chunk``
questions are each a query of their own; 0 for a labelled query): the question asked and the rank
the retriever gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING

from .indexes import CREATED_BY, Index

COLLECTION = "evaluations"
ROWS = "evaluation_rows"

QUEUED = "queued"
DONE = "done"
FAILED = "failed"

INDEXES: tuple[Index, ...] = (
    Index(COLLECTION, [("kb_id", ASCENDING), ("created_at", DESCENDING)]),
    # A confined key's history (RAGTASKS_API_KEY_ISOLATION), newest first.
    Index(COLLECTION, [(CREATED_BY, ASCENDING), ("created_at", DESCENDING)]),
    # The previous comparable report (same KB, finished, newest first).
    Index(COLLECTION, [("kb_id", ASCENDING), ("status", ASCENDING), ("finished_at", DESCENDING)]),
    # A row per question: a chunk asked with several questions has a row for each.
    Index(
        ROWS, [("evaluation_id", ASCENDING), ("chunk_id", ASCENDING), ("question_index", ASCENDING)], {"unique": True}
    ),
)

# What listings return: everything but the (possibly large) sample.
WITHOUT_SAMPLE = {"chunk_ids": 0}


def new_evaluation(
    evaluation_id: str,
    kb_id: str,
    *,
    sample_size: int,
    k: list[int],
    seed: int | None,
    trigger: Literal["api", "nightly"],
    now: datetime,
    task_id: str | None = None,
    maintenance_error: Exception | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """A requested evaluation, queued for ``run_evaluation`` (by the API or the nightly plan).
    ``owner``: the requesting key's name, or for a nightly one the KB's owner (None: unknown)."""
    doc: dict[str, Any] = {
        "_id": evaluation_id,
        "kb_id": kb_id,
        "status": QUEUED,
        "sample_size": sample_size,
        "k": k,
        "seed": seed,
        "trigger": trigger,
    }
    if task_id is not None:
        doc["task_id"] = task_id
    if owner is not None:
        doc[CREATED_BY] = owner
    doc["created_at"] = now
    if maintenance_error is not None:
        doc["maintenance_error"] = f"{type(maintenance_error).__name__}: {maintenance_error}"[:500]
    return doc


def not_published(error: str) -> dict[str, Any]:
    """The ``$set`` of a requested evaluation whose ``run_evaluation`` the broker never took."""
    return {"status": FAILED, "error": error}


def rows_of(evaluation_id: str, chunk_ids: Sequence[str] | None = None) -> dict[str, Any]:
    query: dict[str, Any] = {"evaluation_id": evaluation_id}
    if chunk_ids is not None:
        query["chunk_id"] = {"$in": list(chunk_ids)}
    return query


def row_key(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "evaluation_id": row["evaluation_id"],
        "chunk_id": row["chunk_id"],
        "question_index": int(row.get("question_index") or 0),
    }
