"""The ``kbs`` collection: one document per knowledge base.

``{_id: kb_id, version, created_by, created_at, updated_at, last_maintenance?, retriever?,
baseline?}``. ``version`` counts inserts and changes of its chunks: the evaluator's cached BM25
index and vector alignment key on it. ``created_by`` is the name of the key whose write created
the KB (docs/security.md); what the system creates about a KB (nightly evaluations, its alerts)
belongs to that owner too (:func:`owner_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from .indexes import CREATED_BY

COLLECTION = "kbs"
OWNER_FIELDS = {CREATED_BY: 1}

# Only the _id index: KBs are found by id.
INDEXES: tuple[()] = ()


def claim_update(now: datetime, owner: str) -> dict[str, Any]:
    """A write to a KB that may be new: created (version 0) and owned by ``owner`` if it is."""
    return {"$setOnInsert": {"created_at": now, "version": 0, CREATED_BY: owner}}


def owner_in(doc: dict[str, Any] | None) -> str | None:
    """The owner recorded on a KB document read with :data:`OWNER_FIELDS` (None: none, or no KB)."""
    owner = (doc or {}).get(CREATED_BY)
    return owner if isinstance(owner, str) else None


def owner_of(db: Database, kb_id: str) -> str | None:
    """The KB's owner, for what a worker creates about it (None: unknown KB or no owner)."""
    return owner_in(db[COLLECTION].find_one({"_id": kb_id}, OWNER_FIELDS))


def touch_update(now: datetime, *, bump_version: bool) -> dict[str, Any]:
    """The KB after an upsert of its chunks: created if new, its version bumped if anything changed."""
    change: dict[str, Any] = {"$inc": {"version": 1}} if bump_version else {}
    return {**change, "$set": {"updated_at": now}, "$setOnInsert": {"created_at": now}}


def bump_version_update(now: datetime) -> dict[str, Any]:
    """A change the evaluator made (merges): the caches keyed on the version are stale."""
    return {"$inc": {"version": 1}, "$set": {"updated_at": now}}


def maintenance_update(report: dict[str, Any]) -> dict[str, Any]:
    return {"$set": {"last_maintenance": report}}
