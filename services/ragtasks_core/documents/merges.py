"""The ``kb_merges`` collection: what the evaluator's maintenance merged into what.

One document per change (``GET /v1/kbs/{kb_id}/merges``): ``chunk_id`` stands for its keeper
(``merged_into``) or for itself again (``merged_into`` None), since ``at``. The id is derived from
the change, so a maintenance re-run after a failed write logs nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from .indexes import Index

COLLECTION = "kb_merges"

INDEXES: tuple[Index, ...] = (Index(COLLECTION, [("kb_id", ASCENDING), ("at", ASCENDING)]),)


def new_event(
    kb_id: str, chunk_id: str, before: str | None, after: str | None, version: int, now: datetime
) -> dict[str, Any]:
    return {
        "_id": f"{kb_id}|{chunk_id}|{before}|{after}|v{version}",
        "kb_id": kb_id,
        "chunk_id": chunk_id,
        "merged_into": after,
        "previous": before,
        "at": now,
    }
