"""The ``kb_chunks`` collection: one document per chunk of a knowledge base.

``{kb_id, chunk_id, text, doc_id, metadata, hash, created_at, updated_at, merged_into, merged_ids}``,
unique per ``(kb_id, chunk_id)``. The gateway upserts them; the evaluator's maintenance sets
``merged_into`` / ``merged_ids`` (exact duplicates merged into one keeper, text kept).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from .indexes import Index

COLLECTION = "kb_chunks"

INDEXES: tuple[Index, ...] = (Index(COLLECTION, [("kb_id", ASCENDING), ("chunk_id", ASCENDING)], {"unique": True}),)

# What the gateway compares to decide whether an upserted chunk changed.
COMPARED_FIELDS = {"chunk_id": 1, "hash": 1, "doc_id": 1, "metadata": 1}


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace runs collapsed: the key of exact-duplicate merging."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def key(kb_id: str, chunk_id: str) -> dict[str, Any]:
    return {"kb_id": kb_id, "chunk_id": chunk_id}


def of_kb(kb_id: str, *, active_only: bool = False, chunk_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """A KB's chunks; ``active_only``: those that stand for themselves (not merged into another)."""
    query: dict[str, Any] = {"kb_id": kb_id}
    if active_only:
        query["merged_into"] = None
    if chunk_ids is not None:
        query["chunk_id"] = {"$in": list(chunk_ids)}
    return query


def new_chunk(kb_id: str, chunk: dict[str, Any], digest: str, now: datetime) -> dict[str, Any]:
    """A chunk seen for the first time (``chunk``: chunk_id, text, doc_id, metadata)."""
    return {
        **key(kb_id, chunk["chunk_id"]),
        **chunk,
        "hash": digest,
        "created_at": now,
        "updated_at": now,
        "merged_into": None,
        "merged_ids": [],
    }


def unchanged(old: dict[str, Any], chunk: dict[str, Any], digest: str) -> bool:
    return (
        old.get("hash") == digest and old.get("doc_id") == chunk["doc_id"] and old.get("metadata") == chunk["metadata"]
    )


def changed_fields(old: dict[str, Any], chunk: dict[str, Any], digest: str, now: datetime) -> dict[str, Any]:
    """The ``$set`` of a changed chunk: a new text is un-merged until the next maintenance decides."""
    fields = {**chunk, "hash": digest, "updated_at": now}
    if old.get("hash") != digest:
        fields["merged_into"] = None
    return fields


def merge_update(merged_into: str | None, merged_ids: list[str]) -> dict[str, Any]:
    return {"$set": {"merged_into": merged_into, "merged_ids": merged_ids}}
