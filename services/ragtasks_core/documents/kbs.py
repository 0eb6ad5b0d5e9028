"""The ``kbs`` collection: one document per knowledge base.

``{_id: kb_id, version, created_at, updated_at, last_maintenance?}``. ``version`` counts inserts
and changes of its chunks: the evaluator's cached BM25 index and vector alignment key on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

COLLECTION = "kbs"

# Only the _id index: KBs are found by id.
INDEXES: tuple[()] = ()


def touch_update(now: datetime, *, bump_version: bool) -> dict[str, Any]:
    """The KB after an upsert of its chunks: created if new, its version bumped if anything changed."""
    change: dict[str, Any] = {"$inc": {"version": 1}} if bump_version else {}
    return {**change, "$set": {"updated_at": now}, "$setOnInsert": {"created_at": now}}


def bump_version_update(now: datetime) -> dict[str, Any]:
    """A change the evaluator made (merges): the caches keyed on the version are stale."""
    return {"$inc": {"version": 1}, "$set": {"updated_at": now}}


def maintenance_update(report: dict[str, Any]) -> dict[str, Any]:
    return {"$set": {"last_maintenance": report}}
