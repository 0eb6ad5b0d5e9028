"""The evaluation's steps: sample and fan out, evaluate a batch of questions, hand over the rest.

Each step is idempotent (see ``store``) and takes what it needs as arguments -- a database, a
question writer, a retriever, a ``publish`` function -- so tasks stay thin and tests can drive
the steps directly. The report is written by ``report.finalize_evaluation``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from ragtasks_core import tracing
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings

from . import logic, question_store, store
from .questions import QuestionWriter
from .report import summary
from .retrieval import resolve_config
from .retrievers import RetrievalError, Retriever

log = logging.getLogger(__name__)

# An evaluation of the KB's labelled queries (``questions: "labelled"``) instead of generated questions.
LABELLED = "labelled"

# (task name, kwargs, task id) -> None: publishes by name (the task wraps ``send_task``).
Publish = Callable[[TaskName, dict[str, Any], str], None]


@dataclass
class Row:
    """One query of an evaluation -- a sampled chunk's question (``question_index``: which of its
    ``questions_per_chunk``) or a labelled query: what came back, and at which rank."""

    evaluation_id: str
    batch: int
    chunk_id: str
    question: str = ""
    question_source: str | None = None
    retrieved: list[str] = field(default_factory=list)
    rank: int | None = None
    error: str | None = None
    question_ms: float = 0.0
    retrieval_ms: float = 0.0
    # Retrieved ids that stand for a relevant chunk (merged into it, or its keeper): {alias: chunk}.
    aliases: dict[str, str] = field(default_factory=dict)
    question_id: str | None = None  # the stored question (``question_store``); None: not stored
    relevant: list[list[Any]] | None = None  # a labelled query's judgements [[chunk_id, grade]]; None: own chunk
    question_index: int = 0

    def document(self, keep: int | None = None) -> dict[str, Any]:
        """The ``evaluation_rows`` document (keyed by evaluation, chunk and question index; see
        ``store.write_rows``).

        ``retrieved`` keeps the first ``keep`` ids (the largest k): every metric is scored from
        them, and a retriever asked for 1,000 ids must not make every row 1,000 ids long.
        ``rank`` was taken over everything the retriever returned.
        """
        return {
            "evaluation_id": self.evaluation_id,
            "chunk_id": self.chunk_id,
            "question_index": self.question_index,
            "batch": self.batch,
            "question": self.question,
            "question_source": self.question_source,
            "retrieved": list(self.retrieved[:keep]),
            "aliases": [[alias, chunk] for alias, chunk in sorted(self.aliases.items())],
            "question_id": self.question_id,
            "relevant": self.relevant,
            "rank": self.rank,
            "empty_retrieval": not self.retrieved,
            "error": self.error,
            "question_ms": round(self.question_ms, 2),
            "retrieval_ms": round(self.retrieval_ms, 2),
            "at": store.now(),
        }


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
        if "chunk_ids" in doc:  # a re-run after a fix of the retriever's configuration uses the fixed one
            doc = _refresh_retriever(db, doc, settings)
    if "chunk_ids" not in doc:
        doc = _write_sample(db, doc, settings, question_generator)
    if doc["batches"] == 0:
        publish(TaskName.FINALIZE_EVALUATION, {"evaluation_id": evaluation_id}, f"{evaluation_id}.final")
    for batch in range(doc["batches"]):
        if batch not in doc.get("done_batches", []):
            publish(
                TaskName.EVALUATE_BATCH, {"evaluation_id": evaluation_id, "batch": batch}, f"{evaluation_id}.b{batch}"
            )
    return {"evaluation_id": evaluation_id, "status": "running", "total": doc["total"], "batches": doc["batches"]}


def _refresh_retriever(db: Database, doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    retriever = resolve_config(settings, store.kb_retriever(db, doc["kb_id"]), doc.get("retriever_spec"))
    if retriever == doc.get("retriever_config"):
        return doc
    fields = {
        "retriever": retriever["kind"],
        "retriever_config": retriever,
        "top_k": logic.retrieval_depth(retriever["top_k"], doc["k"]),
    }
    fields["comparison_key"] = logic.comparison_key({**doc, **fields})
    store.set_fields(db, doc["_id"], fields)
    return {**doc, **fields}


def _write_sample(db: Database, doc: dict[str, Any], settings: Settings, question_generator: str) -> dict[str, Any]:
    labelled = doc.get("questions") == LABELLED
    # A labelled evaluation samples the KB's labelled queries (ids in ``chunk_ids``, keying the rows).
    pool = store.labelled_query_ids(db, doc["kb_id"]) if labelled else store.active_chunk_ids(db, doc["kb_id"])
    sample = logic.sample_ids(pool, doc["sample_size"], doc["seed"])
    retriever = resolve_config(settings, store.kb_retriever(db, doc["kb_id"]), doc.get("retriever_spec"))
    bounds = logic.batch_bounds(len(sample), settings.eval_batch_size)
    # Each of a chunk's questions is a query of its own; labelled queries are one question each.
    per_chunk = 1 if labelled else int(doc.get("questions_per_chunk") or 1)
    fields = {
        "chunk_ids": sample,
        "total": len(sample) * per_chunk,  # rows: one per query
        "chunks": len(sample),
        "batch_size": settings.eval_batch_size,
        "batches": len(bounds),
        "done_batches": [],
        "status": "running",
        "started_at": store.now(),
        "retriever": retriever["kind"],
        "retriever_config": retriever,
        "top_k": logic.retrieval_depth(retriever["top_k"], doc["k"]),
        "question_generator": LABELLED if labelled else question_generator,
        "kb_version": store.kb_version(db, doc["kb_id"]),
        "questions_per_chunk": per_chunk,
    }
    fields["comparison_key"] = logic.comparison_key({**doc, **fields})
    written = store.set_sample(db, doc["_id"], fields)
    assert written is not None
    return written


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

    A chunk has ``questions_per_chunk`` questions, each its own query and row; an LLM call takes
    ``questions_per_call // questions_per_chunk`` chunks (at least one), so a call asks about as
    many questions whatever the setting.

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
    labelled = doc.get("questions") == LABELLED
    per_chunk = 1 if labelled else int(doc.get("questions_per_chunk") or 1)
    done = {logic.row_query(r) for r in store.rows_for(db, evaluation_id, ids)}
    todo = [i for i in ids if any((i, n) not in done for n in range(per_chunk))]
    if labelled:
        found = {q["query_id"]: q for q in store.labelled_queries(db, doc["kb_id"], todo)}
    else:
        found = {c["chunk_id"]: c for c in store.chunks(db, doc["kb_id"], active_only=False, chunk_ids=todo)}
    top_k = int(doc.get("top_k") or max(doc["k"]))
    keep = max(doc["k"])
    gone = "query deleted after sampling" if labelled else "chunk deleted after sampling"
    missing = [
        Row(evaluation_id, batch, i, error=gone, question_index=n).document()
        for i in todo
        if i not in found
        for n in range(per_chunk)
        if (i, n) not in done
    ]
    store.write_rows(db, missing)
    present = [i for i in todo if i in found]
    written = 0

    def spent() -> bool:
        return written > 0 and clock() - started >= budget_seconds

    step = max(1, questions_per_call // per_chunk)
    for start in range(0, len(present), step):
        if spent():
            return _continue_batch(db, evaluation_id, batch, len(done) + len(missing) + written, publish)
        group = [found[i] for i in present[start : start + step]]
        t0 = time.perf_counter()
        if labelled:
            prepared = _labelled_rows(db, doc, batch, group)
        else:
            prepared = _generated_rows(db, doc, batch, group, writer, per_chunk, done)
        question_ms = (time.perf_counter() - t0) * 1000 / max(1, len(prepared))
        rows = []
        for row in prepared:
            if spent():
                break
            row.question_ms = question_ms
            rows.append(_retrieve(row, retriever, top_k).document(keep))
            written += 1
        store.write_rows(db, rows)
        if len(rows) < len(prepared):
            return _continue_batch(db, evaluation_id, batch, len(done) + len(missing) + written, publish)
    after = store.mark_batch_done(db, evaluation_id, batch)
    if after is not None and len(after.get("done_batches", [])) >= after["batches"]:
        publish(TaskName.FINALIZE_EVALUATION, {"evaluation_id": evaluation_id}, f"{evaluation_id}.final")
    return {"evaluation_id": evaluation_id, "batch": batch, "status": "done", "rows": len(missing) + written}


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


def _generated_rows(
    db: Database,
    doc: dict[str, Any],
    batch: int,
    chunks: list[dict[str, Any]],
    writer: QuestionWriter,
    per_chunk: int,
    done: set[logic.QueryKey],
) -> list[Row]:
    """The rows still to do of ``chunks``' questions (stored, else written now): each question's
    relevant chunk is its own; chunks merged into it stand for it."""
    generator = str(doc.get("question_generator") or "")
    asked = question_store.questions_for(db, writer, generator, chunks, per_chunk)
    rows = []
    for chunk, questions in zip(chunks, asked, strict=True):
        for index, (text, source, question_id) in enumerate(questions):
            if (chunk["chunk_id"], index) in done:
                continue
            row = Row(doc["_id"], batch, chunk["chunk_id"], text, source, question_id=question_id, question_index=index)
            row.aliases = dict.fromkeys(chunk.get("merged_ids") or [], chunk["chunk_id"])
            rows.append(row)
    return rows


def _labelled_rows(db: Database, doc: dict[str, Any], batch: int, queries: list[dict[str, Any]]) -> list[Row]:
    """Labelled queries' rows (keyed by query id): their judgements, and the merged chunks and
    keepers that stand for a relevant chunk."""
    wanted = sorted({str(c) for q in queries for c, _ in q["relevant"]})
    chunks = {c["chunk_id"]: c for c in store.chunks(db, doc["kb_id"], active_only=False, chunk_ids=wanted)}
    rows = []
    for q in queries:
        row = Row(doc["_id"], batch, q["query_id"], q["query"], LABELLED, relevant=[list(p) for p in q["relevant"]])
        for chunk_id, grade in q["relevant"]:
            chunk = chunks.get(str(chunk_id)) or {}
            if grade > 0:
                row.aliases.update(dict.fromkeys(chunk.get("merged_ids") or [], str(chunk_id)))
                if chunk.get("merged_into"):
                    row.aliases.setdefault(str(chunk["merged_into"]), str(chunk_id))
        rows.append(row)
    return rows


def _retrieve(row: Row, retriever: Retriever, top_k: int) -> Row:
    """Ask the retriever ``row.question``; a failed retrieval is a miss with its error, never dropped."""
    t0 = time.perf_counter()
    # The retriever call is a span of its own (ids and counts only: the question is user text).
    attributes: dict[str, str | int] = {
        "ragtasks.evaluation_id": row.evaluation_id,
        "ragtasks.evaluation.batch": row.batch,
        "ragtasks.chunk_id": row.chunk_id,
        "ragtasks.retriever": retriever.name,
        "ragtasks.retrieve.top_k": top_k,
    }
    with tracing.span("ragtasks.evaluation.retrieve", attributes) as span:
        try:
            row.retrieved = list(retriever.search(row.question, top_k))
        except RetrievalError as exc:
            row.retrieved, row.error = [], str(exc)[:500]
            span.set_attribute("ragtasks.retrieve.error", True)
        span.set_attribute("ragtasks.retrieve.hits", len(row.retrieved))
    row.retrieval_ms = (time.perf_counter() - t0) * 1000
    # The rank in the run the metrics score (aliases stand for what they were merged with, repeats
    # count once): the first relevant id.
    run, qrels = logic.row_run(row.chunk_id, row.document())
    row.rank = logic.rank_of([c for c, grade in qrels.items() if grade > 0], run)
    return row
