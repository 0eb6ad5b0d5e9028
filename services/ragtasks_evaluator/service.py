"""The evaluator's steps: sample and fan out, evaluate a batch, finalize and compare, maintain a KB.

Each step is idempotent (see ``store``) and takes what it needs as arguments -- a database, a
question writer, a retriever, a ``publish`` function -- so tasks stay thin and tests can drive
the steps directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings

from . import logic, store
from .dedup import ChunkText, duplicate_groups
from .retrievers import Bm25Retriever, RetrievalError, Retriever, VectorRetriever, http_retriever
from .vectors import IndexedChunk, QdrantIndex, build_embedder, qdrant_client_for

log = logging.getLogger(__name__)

# (task name, kwargs, task id) -> None: publishes by name (the task wraps ``send_task``).
Publish = Callable[[TaskName, dict[str, Any], str], None]
# chunk texts -> [(question, how it was written)] in the same order.
QuestionWriter = Callable[[list[str]], list[tuple[str, str]]]


# --- question writers --------------------------------------------------------------------------


def offline_writer(texts: list[str]) -> list[tuple[str, str]]:
    return [(logic.offline_question(t), logic.OFFLINE_QUESTION_GENERATOR) for t in texts]


def llm_writer(chat: Callable[..., Any], *, model: str, max_tokens: int) -> QuestionWriter:
    """Several chunks per call, JSON out; a chunk the answer skips gets the offline question (labelled)."""

    def write(texts: list[str]) -> list[tuple[str, str]]:
        completion = chat(logic.build_question_prompt(texts), max_tokens, json_mode=True)
        found = logic.parse_questions(completion.text, len(texts))
        return [
            (found[i], f"llm:{model}") if i in found else (logic.offline_question(t), logic.OFFLINE_QUESTION_GENERATOR)
            for i, t in enumerate(texts)
        ]

    return write


# --- retrievers (cached per process and KB version) --------------------------------------------


@dataclass
class _Cached:
    version: int
    value: Any


_bm25: dict[str, _Cached] = {}
_vector_index: dict[str, QdrantIndex] = {}
_aligned: dict[str, int] = {}
MAX_CACHED_KBS = 8
RECALL_DROP_ALERT_LIFETIME = timedelta(days=1)


def vector_index(settings: Settings) -> QdrantIndex:
    """This process's vector index (a server client, or embedded local mode)."""
    key = settings.qdrant_url or settings.qdrant_path or ":memory:"
    if key not in _vector_index:
        _vector_index[key] = QdrantIndex(qdrant_client_for(settings), build_embedder(settings))
    return _vector_index[key]


def build_retriever(settings: Settings, db: Database, kb_id: str) -> Retriever:
    """The retriever ``RAGTASKS_RETRIEVER`` names; built-in ones see the KB at its current version."""
    if settings.retriever == "http":
        return http_retriever(settings)  # raises RetrieverConfigError when misconfigured (no URL)
    version = store.kb_version(db, kb_id) or 0
    if settings.retriever == "vector":
        index = vector_index(settings)
        if not settings.qdrant_url and _aligned.get(kb_id) != version:
            # Embedded mode: this process's index is a cache of Mongo; bring it up to date first.
            align_index(index, db, kb_id)
            _aligned[kb_id] = version
        return VectorRetriever(index, kb_id)
    cached = _bm25.get(kb_id)
    if cached is None or cached.version != version:
        docs = store.chunks(db, kb_id, active_only=True)
        if len(_bm25) >= MAX_CACHED_KBS:
            _bm25.pop(next(iter(_bm25)))
        cached = _Cached(version, Bm25Retriever([d["chunk_id"] for d in docs], [d["text"] for d in docs]))
        _bm25[kb_id] = cached
    retriever: Retriever = cached.value
    return retriever


def align_index(index: QdrantIndex, db: Database, kb_id: str) -> dict[str, int]:
    docs = store.chunks(db, kb_id, active_only=True)
    report = index.align(kb_id, [IndexedChunk(d["chunk_id"], d["text"], d["hash"]) for d in docs])
    return report.as_dict()


# --- evaluation steps --------------------------------------------------------------------------


def start_evaluation(
    db: Database, evaluation_id: str, *, settings: Settings, question_generator: str, publish: Publish
) -> dict[str, Any]:
    """Sample the chunks (once, reproducibly) and publish one ``evaluate_batch`` per batch.

    Idempotent: the sample is written by compare-and-set, batch task ids are deterministic and a
    re-published batch finds its rows already written. A failed evaluation is reopened: its
    unfinished batches run again and the rows already written are kept.
    """
    doc = store.load_evaluation(db, evaluation_id)
    if doc is None:
        return {"evaluation_id": evaluation_id, "status": "missing"}
    if doc["status"] == store.DONE:
        return summary(doc)
    if doc["status"] == store.FAILED:
        doc = store.reopen(db, evaluation_id, "running" if "chunk_ids" in doc else "queued")
        assert doc is not None
    if "chunk_ids" not in doc:
        sample = logic.sample_ids(store.active_chunk_ids(db, doc["kb_id"]), doc["sample_size"], doc["seed"])
        bounds = logic.batch_bounds(len(sample), settings.eval_batch_size)
        doc = store.set_sample(
            db,
            evaluation_id,
            {
                "chunk_ids": sample,
                "total": len(sample),
                "batch_size": settings.eval_batch_size,
                "batches": len(bounds),
                "done_batches": [],
                "status": "running",
                "started_at": store.now(),
                "retriever": settings.retriever,
                "top_k": logic.retrieval_depth(settings.retriever_top_k, doc["k"]),
                "question_generator": question_generator,
                "kb_version": store.kb_version(db, doc["kb_id"]),
            },
        )
        assert doc is not None
    if doc["batches"] == 0:
        publish(TaskName.FINALIZE_EVALUATION, {"evaluation_id": evaluation_id}, f"{evaluation_id}.final")
    for batch in range(doc["batches"]):
        if batch not in doc.get("done_batches", []):
            publish(
                TaskName.EVALUATE_BATCH, {"evaluation_id": evaluation_id, "batch": batch}, f"{evaluation_id}.b{batch}"
            )
    return {"evaluation_id": evaluation_id, "status": "running", "total": doc["total"], "batches": doc["batches"]}


def evaluate_batch(
    db: Database,
    evaluation_id: str,
    batch: int,
    *,
    writer: QuestionWriter,
    retriever: Retriever,
    questions_per_call: int,
    publish: Publish,
    budget_seconds: float = float("inf"),
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Questions and retrieval for one batch; rows are saved per LLM call, so a retry resumes.

    Idempotent: rows already written are skipped; the batch is recorded in a set; whichever
    batch completes the set publishes the (idempotent) finalizer.

    Time budget: once ``budget_seconds`` have passed (checked before each question, after at
    least one row), the rows done so far are saved and the rest of the batch is handed to a new
    ``evaluate_batch`` task (same payload; its id names how many rows were done, so a redelivery
    publishes the same continuation). A slow retriever thus never runs a task into the soft time
    limit, and every invocation makes progress.
    """
    started = clock()
    doc = store.load_evaluation(db, evaluation_id)
    if doc is None or "chunk_ids" not in doc:
        return {"evaluation_id": evaluation_id, "batch": batch, "status": "missing"}
    if doc["status"] == store.DONE:
        return {"evaluation_id": evaluation_id, "batch": batch, "status": "skipped"}
    size = doc["batch_size"]
    ids = doc["chunk_ids"][batch * size : (batch + 1) * size]
    done = {r["chunk_id"] for r in store.rows_for(db, evaluation_id, ids)}
    todo = [i for i in ids if i not in done]
    found = {c["chunk_id"]: c for c in store.chunks(db, doc["kb_id"], active_only=False, chunk_ids=todo)}
    top_k = int(doc.get("top_k") or max(doc["k"]))
    missing = [i for i in todo if i not in found]
    store.write_rows(
        db, [_row(evaluation_id, batch, i, None, "", [], None, "chunk deleted after sampling", 0) for i in missing]
    )
    present = [i for i in todo if i in found]
    written = 0

    def spent() -> bool:
        return written > 0 and clock() - started >= budget_seconds

    for start in range(0, len(present), questions_per_call):
        if spent():
            return _continue_batch(db, evaluation_id, batch, len(done) + len(missing) + written, publish)
        group = present[start : start + questions_per_call]
        t0 = time.perf_counter()
        questions = writer([found[i]["text"] for i in group])
        question_ms = (time.perf_counter() - t0) * 1000 / max(1, len(group))
        rows = []
        for chunk_id, (question, source) in zip(group, questions, strict=True):
            if spent():
                break
            aliases = [chunk_id, *(found[chunk_id].get("merged_ids") or [])]
            rows.append(
                _retrieve_row(evaluation_id, batch, chunk_id, aliases, question, source, retriever, top_k, question_ms)
            )
            written += 1
        store.write_rows(db, rows)
        if len(rows) < len(group):
            return _continue_batch(db, evaluation_id, batch, len(done) + len(missing) + written, publish)
    after = store.mark_batch_done(db, evaluation_id, batch)
    if after is not None and len(after.get("done_batches", [])) >= after["batches"]:
        publish(TaskName.FINALIZE_EVALUATION, {"evaluation_id": evaluation_id}, f"{evaluation_id}.final")
    return {"evaluation_id": evaluation_id, "batch": batch, "status": "done", "rows": len(todo)}


def _continue_batch(db: Database, evaluation_id: str, batch: int, rows_done: int, publish: Publish) -> dict[str, Any]:
    """The time budget is spent: hand the rest of the batch to a fresh task (rows done are saved)."""
    store.count_continuation(db, evaluation_id)
    publish(
        TaskName.EVALUATE_BATCH,
        {"evaluation_id": evaluation_id, "batch": batch},
        f"{evaluation_id}.b{batch}.r{rows_done}",
    )
    log.info("evaluation %s batch %d: time budget spent after %d rows; continuing", evaluation_id, batch, rows_done)
    return {"evaluation_id": evaluation_id, "batch": batch, "status": "continued", "rows_done": rows_done}


def _retrieve_row(
    evaluation_id: str,
    batch: int,
    chunk_id: str,
    aliases: list[str],
    question: str,
    source: str,
    retriever: Retriever,
    top_k: int,
    question_ms: float,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    error = None
    try:
        retrieved = retriever.search(question, top_k)
    except RetrievalError as exc:
        retrieved, error = [], str(exc)[:500]
    retrieval_ms = (time.perf_counter() - t0) * 1000
    rank = logic.rank_of(aliases, retrieved)
    row = _row(evaluation_id, batch, chunk_id, rank, question, retrieved, source, error, question_ms)
    row["retrieval_ms"] = round(retrieval_ms, 2)
    return row


def _row(
    evaluation_id: str,
    batch: int,
    chunk_id: str,
    rank: int | None,
    question: str,
    retrieved: Sequence[str],
    source: str | None,
    error: str | None,
    question_ms: float,
) -> dict[str, Any]:
    return {
        "evaluation_id": evaluation_id,
        "chunk_id": chunk_id,
        "batch": batch,
        "question": question,
        "question_source": source,
        "retrieved": list(retrieved),
        "rank": rank,
        "empty_retrieval": not retrieved,
        "error": error,
        "question_ms": round(question_ms, 2),
        "retrieval_ms": 0.0,
        "at": store.now(),
    }


def finalize_evaluation(db: Database, evaluation_id: str, *, settings: Settings, publish: Publish) -> dict[str, Any]:
    """Aggregate the rows into the report, compare with the previous report of the KB, alert.

    Idempotent: the report is written by compare-and-set; the alert is published by whoever
    wrote it, or by a re-run if that publish had failed (``alert.published`` stays false).
    """
    doc = store.load_evaluation(db, evaluation_id)
    if doc is None or "chunk_ids" not in doc:
        return {"evaluation_id": evaluation_id, "status": "missing"}
    if doc["status"] != store.DONE:
        rows = {r["chunk_id"]: r for r in store.rows_for(db, evaluation_id)}
        ranks = [rows[c]["rank"] if c in rows else None for c in doc["chunk_ids"]]
        metrics = logic.score(ranks, doc["k"])
        finished = store.now()
        previous = store.previous_report(db, doc, finished)
        drops = logic.compare(previous["metrics"], metrics, settings.eval_drop_threshold) if previous else []
        started = doc.get("started_at") or finished
        fields = {
            "metrics": metrics,
            "finished_at": finished,
            "counts": _counts(list(rows.values()), len(doc["chunk_ids"])),
            "timings": _timings(list(rows.values()), started, finished),
            "comparison": {
                "previous_evaluation_id": previous["_id"] if previous else None,
                "previous_metrics": previous["metrics"] if previous else None,
                "threshold": settings.eval_drop_threshold,
                "drops": [
                    {"metric": d.metric, "previous": d.previous, "current": d.current, "delta": d.delta} for d in drops
                ],
            },
            "alert": {"fired": bool(drops), "published": False},
        }
        store.finish(db, evaluation_id, fields)
        doc = store.load_evaluation(db, evaluation_id)
        assert doc is not None
    alert = doc.get("alert") or {}
    if alert.get("fired") and not alert.get("published"):
        payload = recall_drop_alert(doc, settings)
        publish(TaskName.RAISE_ALERT, payload, f"{evaluation_id}.alert")
        store.set_fields(db, evaluation_id, {"alert.published": True, "alert.fingerprint": payload["fingerprint"]})
        doc["alert"] = {**alert, "published": True}
    return summary(doc)


def _counts(rows: list[dict[str, Any]], total: int) -> dict[str, Any]:
    sources: dict[str, int] = {}
    for r in rows:
        key = str(r.get("question_source") or "none")
        sources[key] = sources.get(key, 0) + 1
    return {
        "total": total,
        "rows": len(rows),
        "hits": sum(1 for r in rows if r.get("rank") is not None),
        "misses": total - sum(1 for r in rows if r.get("rank") is not None),
        "empty_retrievals": sum(1 for r in rows if r.get("empty_retrieval")),
        "retrieval_errors": sum(1 for r in rows if r.get("error")),
        "question_sources": sources,
    }


def _timings(rows: list[dict[str, Any]], started: datetime, finished: datetime) -> dict[str, float]:
    n = max(1, len(rows))
    return {
        "total_seconds": round((finished - started).total_seconds(), 3),
        "mean_question_ms": round(sum(float(r.get("question_ms") or 0) for r in rows) / n, 2),
        "mean_retrieval_ms": round(sum(float(r.get("retrieval_ms") or 0) for r in rows) / n, 2),
    }


def recall_drop_alert(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The alerter's ``RaiseAlert`` payload (``ragtasks_core.contract.alerter``), small: ids and numbers."""
    drops = doc["comparison"]["drops"]
    worst = min(drops, key=lambda d: d["delta"])
    kb_id = doc["kb_id"]
    fields: dict[str, Any] = {
        "fingerprint": f"recall-drop:{kb_id}",
        "severity": "critical" if -worst["delta"] >= 2 * settings.eval_drop_threshold else "warning",
        "title": f"Recall dropped on knowledge base {kb_id}",
        "body": "; ".join(f"{d['metric']} {d['previous']:.3f} -> {d['current']:.3f}" for d in drops)
        + f" (evaluation {doc['_id']}, previous {doc['comparison']['previous_evaluation_id']}, "
        f"threshold {settings.eval_drop_threshold})",
        "labels": {"kb": kb_id, "alertname": "RecallDrop", "evaluation_id": doc["_id"]},
        "source": "evaluator",
        "status": "firing",
        "starts_at": doc["finished_at"],
        # A drop is an event, not a state: it stands until the next nightly evaluation, which
        # raises it again if recall is still falling. So the alerter resolves it after a day.
        "ends_at": doc["finished_at"] + RECALL_DROP_ALERT_LIFETIME,
    }
    dumped: dict[str, Any] = RaiseAlert(**fields).model_dump(mode="json")
    return dumped


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What the Celery result holds: small; the report itself is in Mongo."""
    return {
        "evaluation_id": doc["_id"],
        "kb_id": doc.get("kb_id"),
        "status": doc.get("status"),
        "metrics": doc.get("metrics"),
        "alert": bool((doc.get("alert") or {}).get("fired")),
    }


# --- maintenance -------------------------------------------------------------------------------


def maintain_kb(db: Database, kb_id: str, *, settings: Settings, index: QdrantIndex | None) -> dict[str, Any]:
    """Merge duplicates (exact and near), then align the vector index with Mongo.

    Idempotent: merge groups are recomputed from all chunks with deterministic keepers and only
    differences are written; aligning converges to Mongo's active chunks. Text is never deleted:
    a merged chunk keeps its text and points at its keeper (``merged_into``), the keeper lists
    what was merged into it (``merged_ids``).
    """
    t0 = time.perf_counter()
    current = store.chunks(db, kb_id, active_only=False)
    groups = duplicate_groups(
        [ChunkText(d["chunk_id"], d["text"], d["hash"]) for d in current], settings.dedup_threshold
    )
    hashes = {d["chunk_id"]: d["hash"] for d in current}
    merged = sum(len(ids) for ids in groups.values())
    exact = sum(1 for keeper, ids in groups.items() for i in ids if hashes[i] == hashes[keeper])
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
    if index is not None:
        report["index"] = align_index(index, db, kb_id)
        report["index"]["backend"] = "qdrant-server" if settings.qdrant_url else "qdrant-local"
        report["index"]["embedder"] = index.embedder.name
        _aligned[kb_id] = store.kb_version(db, kb_id) or 0
    report["seconds"] = round(time.perf_counter() - t0, 3)
    store.record_maintenance(db, kb_id, report)
    return {**report, "kb_id": kb_id, "at": report["at"].isoformat()}


def nightly_evaluation_id(kb_id: str, day: str) -> str:
    return f"nightly-{day}-{kb_id}"[:128]


def nightly_plan(existing: Sequence[str], wanted: Sequence[str], day: str) -> dict[str, str | None]:
    """Every existing KB is maintained; those in ``wanted`` get tonight's evaluation id (else None)."""
    for kb_id in sorted(set(wanted) - set(existing)):
        log.warning("nightly: knowledge base %r does not exist; not evaluated", kb_id)
    return {kb_id: nightly_evaluation_id(kb_id, day) if kb_id in wanted else None for kb_id in sorted(existing)}


def create_nightly_evaluation(
    db: Database, kb_id: str, evaluation_id: str, *, settings: Settings, maintenance_error: Exception | None = None
) -> bool:
    """Tonight's evaluation of one KB (created once: a re-run of nightly creates nothing new)."""
    doc: dict[str, Any] = {
        "_id": evaluation_id,
        "kb_id": kb_id,
        "status": "queued",
        "sample_size": settings.eval_sample_size,
        "k": logic.normalize_ks(settings.eval_k),
        "seed": settings.eval_seed,
        "trigger": "nightly",
        "created_at": store.now(),
    }
    if maintenance_error is not None:
        doc["maintenance_error"] = f"{type(maintenance_error).__name__}: {maintenance_error}"[:500]
    return store.create_evaluation(db, doc)
