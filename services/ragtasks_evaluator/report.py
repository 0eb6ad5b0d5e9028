"""The evaluation's report: aggregate the rows, compare with the KB's previous report, alert.

``finalize_evaluation`` is the last step of an evaluation (idempotent, see its docstring);
``recall_drop_alert`` builds the alerter's payload, ``summary`` what a task's result holds.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pymongo.database import Database

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings

from . import alert_text, logic, store

if TYPE_CHECKING:
    from .evaluation import Publish

RECALL_DROP_ALERT_LIFETIME = timedelta(days=1)


def finalize_evaluation(db: Database, evaluation_id: str, *, settings: Settings, publish: Publish) -> dict[str, Any]:
    """Aggregate the rows into the report, compare with the previous report of the KB, alert.

    Idempotent: the report is written by compare-and-set; the alert is published by whoever
    wrote it, or by a re-run if that publish had failed (``alert.published`` stays false).
    """
    doc = store.load_evaluation(db, evaluation_id)
    if doc is None or "chunk_ids" not in doc:
        return {"evaluation_id": evaluation_id, "status": "missing"}
    if doc["status"] != store.DONE:
        rows = {logic.row_query(r): r for r in store.rows_for(db, evaluation_id)}
        # Every question is a query of its own: a chunk with three questions is three queries.
        queries = logic.query_keys(doc["chunk_ids"], int(doc.get("questions_per_chunk") or 1))
        metrics = logic.score_queries(queries, rows, doc["k"])
        finished = store.now()
        previous = store.previous_report(db, doc, finished)
        baseline = store.baseline_report(db, doc)
        drops = logic.drift(
            metrics,
            previous=previous["metrics"] if previous else None,
            baseline=baseline["metrics"] if baseline else None,
            threshold=settings.eval_drop_threshold,
            floor=settings.eval_min_hit_rate,
            baseline_is_previous=bool(previous and baseline and previous["_id"] == baseline["_id"]),
        )
        started = doc.get("started_at") or finished
        fields = {
            "metrics": metrics,
            "finished_at": finished,
            "counts": _counts(list(rows.values()), len(queries)),
            "question_set": question_set(doc, rows),
            "timings": _timings(list(rows.values()), started, finished),
            "comparison": {
                "previous_evaluation_id": previous["_id"] if previous else None,
                "previous_metrics": previous["metrics"] if previous else None,
                "baseline_evaluation_id": baseline["_id"] if baseline else None,
                "baseline_metrics": baseline["metrics"] if baseline else None,
                "threshold": settings.eval_drop_threshold,
                "min_hit_rate": settings.eval_min_hit_rate,
                "drops": [d.as_dict() for d in drops],
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


def question_set(doc: dict[str, Any], rows: dict[logic.QueryKey, dict[str, Any]]) -> dict[str, Any]:
    """Which questions the report asked: the writer, how many per chunk, how many were stored
    (reused or kept for the next run), and a fingerprint of every (chunk, question) pair -- two
    reports with the same fingerprint asked exactly the same questions."""
    pairs = sorted(f"{_query_label(key)}\t{row.get('question', '')}" for key, row in rows.items())
    return {
        "generator": doc.get("question_generator"),
        "questions_per_chunk": int(doc.get("questions_per_chunk") or 1),
        "stored": sum(1 for r in rows.values() if r.get("question_id")),
        "fingerprint": hashlib.sha256("\n".join(pairs).encode("utf-8")).hexdigest()[:16],
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
        # In the team's language, like the alerter's own words around it; each drop says what
        # it was held to (previous comparable report, baseline or floor).
        "title": alert_text.title(settings.alert_language, kb_id),
        "body": alert_text.body(settings.alert_language, drops, doc["comparison"], doc["_id"]),
        "labels": {
            "kb": kb_id,
            "alertname": "RecallDrop",
            "evaluation_id": doc["_id"],
            # What recall fell short of: previous, baseline and/or floor.
            "against": ",".join(sorted({str(d.get("against", "previous")) for d in drops})),
        },
        "source": "evaluator",
        "status": "firing",
        "starts_at": doc["finished_at"],
        # A drop is an event, not a state: it stands until the next nightly evaluation, which
        # raises it again if recall is still falling. So the alerter resolves it after a day.
        "ends_at": doc["finished_at"] + RECALL_DROP_ALERT_LIFETIME,
    }
    dumped: dict[str, Any] = RaiseAlert(**fields).model_dump(mode="json")
    return dumped


def _query_label(key: logic.QueryKey) -> str:
    """A query in the fingerprint: a chunk's first question is named by the chunk alone, as it was
    before chunks had several (so reports of one question per chunk keep their fingerprint)."""
    chunk_id, index = key
    return chunk_id if index == 0 else f"{chunk_id}#{index}"


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What the Celery result holds: small; the report itself is in Mongo."""
    return {
        "evaluation_id": doc["_id"],
        "kb_id": doc.get("kb_id"),
        "status": doc.get("status"),
        "metrics": doc.get("metrics"),
        "alert": bool((doc.get("alert") or {}).get("fired")),
    }
