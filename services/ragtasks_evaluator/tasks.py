"""Celery tasks of the evaluator queue: deserialize, call the service, map errors to retries.

Time limits: one task never holds a message for long -- an evaluation is split into batches of
``RAGTASKS_EVAL_BATCH_SIZE`` chunks (a few LLM calls each), far below RabbitMQ's consumer
timeout; LLM backoff waits in the broker (countdown), not in the worker.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from celery import Task, shared_task

from ragtasks_core import metrics
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.common import Payload
from ragtasks_core.contract.evaluator import EvaluateBatch, FinalizeEvaluation, MaintainKb, Nightly, RunEvaluation
from ragtasks_core.llm import PermanentLLMError, TransientLLMError
from ragtasks_core.llm_policy import LLMDeferred, LLMGaveUp, forget_failures, limited_chat, next_retry_delay
from ragtasks_core.runtime import Runtime, get_runtime
from ragtasks_core.tasks import parse_payload

from . import logic, service, store

log = logging.getLogger(__name__)


def _rt() -> Runtime:
    return get_runtime().set_up_once("evaluator-indexes", store.ensure_indexes)


def _publisher(task: Task) -> service.Publish:
    def publish(name: TaskName, kwargs: dict[str, Any], task_id: str) -> None:
        task.app.send_task(name.value, kwargs=kwargs, task_id=task_id)

    return publish


def _generator_name(rt: Runtime) -> str:
    return f"llm:{rt.settings.llm_model}" if rt.llm is not None else logic.OFFLINE_QUESTION_GENERATOR


def _writer(rt: Runtime) -> service.QuestionWriter:
    if rt.llm is None:
        return service.offline_writer
    return service.llm_writer(
        limited_chat(rt), model=rt.settings.llm_model, max_tokens=rt.settings.eval_question_max_tokens
    )


@shared_task(bind=True, name=TaskName.RUN_EVALUATION.value)
def run_evaluation(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Sample an evaluation's chunks and fan out its batches.

    Idempotent: the sample is written once (compare-and-set) and re-publishing a batch is
    harmless; re-running a finished evaluation returns its summary and changes nothing.
    """
    payload = parse_payload(RunEvaluation, kwargs)
    rt = _rt()
    return service.start_evaluation(
        rt.db,
        payload.evaluation_id,
        settings=rt.settings,
        question_generator=_generator_name(rt),
        publish=_publisher(self),
    )


@shared_task(bind=True, name=TaskName.EVALUATE_BATCH.value, max_retries=None)
def evaluate_batch(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Questions (LLM or offline) and retrieval for one batch of sampled chunks.

    Idempotent: rows are keyed (evaluation_id, chunk_id) and rows already written are skipped, so
    a retry after an LLM failure resumes where it stopped; the batch counts once (a set).
    """
    payload = parse_payload(EvaluateBatch, kwargs)
    rt = _rt()
    doc = store.load_evaluation(rt.db, payload.evaluation_id)
    if doc is None:
        return {"evaluation_id": payload.evaluation_id, "status": "missing"}
    retriever = service.build_retriever(rt.settings, rt.db, doc["kb_id"])
    try:
        result = service.evaluate_batch(
            rt.db,
            payload.evaluation_id,
            payload.batch,
            writer=_writer(rt),
            retriever=retriever,
            questions_per_call=rt.settings.eval_questions_per_llm_call,
            publish=_publisher(self),
        )
    except LLMDeferred as exc:
        raise self.retry(countdown=exc.delay, exc=exc) from exc
    except TransientLLMError as exc:
        try:
            delay = next_retry_delay(rt, self.request.id, exc)
        except LLMGaveUp as gave_up:
            store.set_fields(rt.db, payload.evaluation_id, {"status": "failed", "error": str(gave_up)[:500]})
            forget_failures(rt, self.request.id)
            raise gave_up from exc
        log.info("LLM transient failure, retrying batch in %.1fs: %s", delay, exc)
        raise self.retry(countdown=delay, exc=exc) from exc
    except PermanentLLMError as exc:
        store.set_fields(rt.db, payload.evaluation_id, {"status": "failed", "error": str(exc)[:500]})
        raise
    finally:
        close = getattr(retriever, "close", None)
        if close is not None:
            close()
    forget_failures(rt, self.request.id)
    return result


@shared_task(bind=True, name=TaskName.FINALIZE_EVALUATION.value)
def finalize_evaluation(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Write the report, compare it with the KB's previous one, raise the recall-drop alert.

    Idempotent: the report is written once (compare-and-set on status); the alert is published
    once unless that publish failed, in which case a re-run publishes it.
    """
    payload = parse_payload(FinalizeEvaluation, kwargs)
    rt = _rt()
    result = service.finalize_evaluation(rt.db, payload.evaluation_id, settings=rt.settings, publish=_publisher(self))
    for key, value in (result.get("metrics") or {}).items():
        name, k = key.split("@")
        gauge = metrics.EVAL_HIT_RATE if name == "hit_rate" else metrics.EVAL_MRR
        gauge.labels(result["kb_id"], k).set(value)
    return result


def _maintain(rt: Runtime, kb_ids: list[str]) -> dict[str, Any]:
    index = service.vector_index(rt.settings)
    return {kb: service.maintain_kb(rt.db, kb, settings=rt.settings, index=index) for kb in kb_ids}


@shared_task(name=TaskName.MAINTAIN_KB.value)
def maintain_kb(**kwargs: Any) -> dict[str, Any]:
    """Merge duplicate chunks and align the vector index of one KB (or all).

    Idempotent: merges are recomputed from all chunks with deterministic keepers and only
    differences are written; the index converges to Mongo, the source of truth.
    """
    payload = parse_payload(MaintainKb, kwargs)
    rt = _rt()
    reports = _maintain(rt, [payload.kb_id] if payload.kb_id else store.kb_ids(rt.db))
    metrics.PERIODIC_LAST_SUCCESS.labels(TaskName.MAINTAIN_KB.value).set(time.time())
    return {kb: {k: r[k] for k in ("chunks", "active", "merged", "changed")} for kb, r in reports.items()}


@shared_task(bind=True, name=TaskName.NIGHTLY.value)
def nightly(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Maintenance of every KB, then one evaluation per configured KB (beat runs it at 02:00).

    Idempotent: maintenance is; the evaluations have a deterministic id per KB and local day,
    so a redelivered nightly re-publishes the same evaluations, whose tasks are idempotent.
    """
    payload = parse_payload(Nightly, kwargs)
    rt = _rt()
    kb_ids = payload.kb_ids if payload.kb_ids is not None else rt.settings.eval_kbs
    maintained = _maintain(rt, store.kb_ids(rt.db))
    day = datetime.now(ZoneInfo(rt.settings.timezone)).strftime("%Y%m%d")
    evaluations = service.create_nightly_evaluations(rt.db, kb_ids, settings=rt.settings, day=day)
    publish = _publisher(self)
    for evaluation_id in evaluations:
        publish(
            TaskName.RUN_EVALUATION,
            RunEvaluation(evaluation_id=evaluation_id).model_dump(mode="json"),
            f"{evaluation_id}.run",
        )
    metrics.PERIODIC_LAST_SUCCESS.labels(TaskName.NIGHTLY.value).set(time.time())
    return {"maintained": sorted(maintained), "evaluations": evaluations}


@shared_task(name=TaskName.EVALUATOR_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Payload, kwargs)
    return "pong"
