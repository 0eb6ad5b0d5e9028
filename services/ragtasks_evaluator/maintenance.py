"""Nightly upkeep of a knowledge base: merge duplicate chunks, then align the vector index with Mongo."""

from __future__ import annotations

import time
from typing import Any

from pymongo.database import Database

from ragtasks_core.settings import Settings

from . import store
from .dedup import ChunkText, duplicate_groups, exact_key
from .retrieval import Retrievers


def maintain_kb(db: Database, kb_id: str, *, settings: Settings, retrievers: Retrievers | None) -> dict[str, Any]:
    """Merge duplicates (exact and near), then align the vector index of ``retrievers`` with Mongo.

    Idempotent: merge groups are recomputed from all chunks with deterministic keepers and only
    differences are written; aligning converges to Mongo's active chunks. Text is never deleted:
    a merged chunk keeps its text and points at its keeper (``merged_into``), the keeper lists
    what was merged into it (``merged_ids``).
    """
    t0 = time.perf_counter()
    current = store.chunks(db, kb_id, active_only=False)
    groups = duplicate_groups([ChunkText(d["chunk_id"], d["text"]) for d in current], settings.dedup_threshold)
    keys = {d["chunk_id"]: exact_key(d["text"]) for d in current}
    merged = sum(len(ids) for ids in groups.values())
    exact = sum(1 for keeper, ids in groups.items() for i in ids if keys[i] == keys[keeper])
    changed = store.apply_merges(db, kb_id, current, groups)
    if changed:
        store.bump_kb_version(db, kb_id)
    report: dict[str, Any] = {
        "at": store.now(),
        "chunks": len(current),
        "active": len(current) - merged,
        "merged": merged,
        "merged_exact": exact,
        "merged_near": merged - exact,
        "groups": len(groups),
        "changed": changed,
        "dedup_threshold": settings.dedup_threshold,
    }
    if retrievers is not None:
        report["index"] = retrievers.align(db, kb_id)
        report["index"]["backend"] = "qdrant-server" if settings.qdrant_url else "qdrant-local"
        report["index"]["embedder"] = retrievers.index.embedder.name
    report["seconds"] = round(time.perf_counter() - t0, 3)
    store.record_maintenance(db, kb_id, report)
    return {**report, "kb_id": kb_id, "at": report["at"].isoformat()}
