"""Celery tasks of the evaluator queue: deserialize, call the step, map errors to retries.

Time limits: one task never holds a message for long -- an evaluation is split into batches of
``RAGTASKS_EVAL_BATCH_SIZE`` chunks (a few LLM calls each), and a batch that runs past its time
budget (``RAGTASKS_EVAL_BATCH_TIME_BUDGET_SECONDS``, at most half the soft time limit) hands the
rest to a fresh task; LLM backoff waits in the broker (countdown), not in the worker.

Failures: connection errors (Mongo, broker) are retried a few times; whatever still fails -- a
misconfigured retriever, a Mongo error, a broker that stays away, the soft time limit -- marks
the evaluation ``failed`` with its ``error`` before the task fails, so it never stays ``running``.
Re-running ``run_evaluation`` on a failed evaluation reopens it and keeps the rows already written.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from celery import Task, shared_task
from celery.exceptions import Retry
from kombu.exceptions import OperationalError
from pymongo.errors import ConnectionFailure

from ragtasks_core import metrics, outbox
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.common import Payload
from ragtasks_core.contract.evaluator import EvaluateBatch, FinalizeEvaluation, MaintainKb, Nightly, RunEvaluation
from ragtasks_core.llm import PermanentLLMError, TransientLLMError
from ragtasks_core.llm_policy import (
    LLMDeferred,
    LLMGaveUp,
    broker_countdown,
    forget_failures,
    limited_chat,
    next_retry_delay,
)
from ragtasks_core.runtime import Runtime, get_runtime
from ragtasks_core.tasks import parse_payload

from . import evaluation, maintenance, questions, report, retrieval, store
from .nightly import create_nightly_evaluation, nightly_plan

log = logging.getLogger(__name__)


def _rt() -> Runtime:
    return get_runtime().set_up_once("evaluator-indexes", store.ensure_indexes)


def _publisher(task: Task) -> evaluation.Publish:
    def publish(name: TaskName, kwargs: dict[str, Any], task_id: str) -> None:
        if name is TaskName.RAISE_ALERT:
            # An alert must survive a broker outage: recorded in the outbox, swept if unpublished.
            outbox.publish_reliably_sync(task.app, get_runtime().db, name.value, kwargs, task_id)
        else:
            task.app.send_task(name.value, kwargs=kwargs, task_id=task_id)

    return publish


def _generator_name(rt: Runtime) -> str:
    return f"llm:{rt.settings.llm_model}" if rt.llm is not None else questions.OFFLINE_QUESTION_GENERATOR


def _writer(rt: Runtime) -> questions.QuestionWriter:
    if rt.llm is None:
        return questions.offline_writer
    return questions.llm_writer(
        limited_chat(rt),
        model=rt.settings.llm_model,
        max_tokens=rt.settings.eval_question_max_tokens,
        context_tokens=rt.settings.llm_context_tokens,
    )


# Connection-level errors worth a few retries before an evaluation is declared failed.
INFRA_ERRORS = (ConnectionFailure, OperationalError, ConnectionError)
INFRA_MAX_RETRIES = 3


def _fail_evaluation(task: Task, evaluation_id: str, exc: BaseException) -> None:
    """Retry a connection error a few times; otherwise record the failure on the evaluation.

    Called from an ``except`` block, which then re-raises: the task ends in FAILURE (and the
    task-failure alert fires) while ``GET /v1/evaluations/{id}`` shows ``failed`` and why.
    """
    infra_retries = int((task.request.headers or {}).get("infra_retries") or 0) if task.request else 0
    if isinstance(exc, INFRA_ERRORS) and infra_retries < INFRA_MAX_RETRIES:
        try:
            raise task.retry(countdown=2**infra_retries, headers={"infra_retries": infra_retries + 1}, exc=exc)
        except Retry:
            raise
        except Exception:  # could not even publish the retry: fall through and record the failure
            log.exception("could not retry %s for evaluation %s", task.name, evaluation_id)
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        store.fail(_rt().db, evaluation_id, reason, task.name)
    except Exception:  # Mongo itself is away: the task's FAILURE (and its alert) still tell
        log.exception("could not mark evaluation %s failed (%s)", evaluation_id, reason)


@shared_task(bind=True, name=TaskName.RUN_EVALUATION.value)
def run_evaluation(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Sample an evaluation's chunks and fan out its batches.

    Idempotent: the sample is written once (compare-and-set) and re-publishing a batch is
    harmless; re-running a finished evaluation returns its summary and changes nothing;
    re-running a failed one reopens it and re-publishes only its unfinished batches.
    """
    payload = parse_payload(RunEvaluation, kwargs)
    try:
        rt = _rt()
        return evaluation.start_evaluation(
            rt.db,
            payload.evaluation_id,
            settings=rt.settings,
            question_generator=_generator_name(rt),
            publish=_publisher(self),
        )
    except Exception as exc:
        _fail_evaluation(self, payload.evaluation_id, exc)
        raise


@shared_task(bind=True, name=TaskName.EVALUATE_BATCH.value, max_retries=None)
def evaluate_batch(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Questions (LLM or offline) and retrieval for one batch of sampled chunks.

    Idempotent: rows are keyed (evaluation_id, chunk_id, question_index) and rows already written
    are skipped, so a retry after an LLM failure -- or a continuation after the time budget --
    resumes where it stopped; the batch counts once (a set).
    """
    payload = parse_payload(EvaluateBatch, kwargs)
    try:
        return _evaluate_batch(self, payload)
    except (Retry, LLMGaveUp, PermanentLLMError):
        raise  # a retry is not a failure; LLM failures are recorded by _evaluate_batch
    except Exception as exc:
        _fail_evaluation(self, payload.evaluation_id, exc)
        raise


def _evaluate_batch(task: Task, payload: EvaluateBatch) -> dict[str, Any]:
    rt = _rt()
    doc = store.load_evaluation(rt.db, payload.evaluation_id)
    if doc is None:
        return {"evaluation_id": payload.evaluation_id, "status": "missing"}
    retriever: Any = None
    try:
        # Built inside: a vector retriever may first align (embed), under the LLM policy below.
        retriever = retrieval.for_runtime(rt).build(rt.db, doc["kb_id"], doc.get("retriever_config"))
        result = evaluation.evaluate_batch(
            rt.db,
            payload.evaluation_id,
            payload.batch,
            writer=_writer(rt),
            retriever=retriever,
            questions_per_call=rt.settings.eval_questions_per_llm_call,
            publish=_publisher(task),
            budget_seconds=rt.settings.effective_eval_batch_time_budget_seconds,
        )
    except LLMDeferred as exc:
        raise task.retry(countdown=broker_countdown(exc.delay), exc=exc) from exc
    except TransientLLMError as exc:
        try:
            delay = next_retry_delay(rt, task.request.id, exc)
        except LLMGaveUp as gave_up:
            store.fail(rt.db, payload.evaluation_id, str(gave_up), task.name)
            forget_failures(rt, task.request.id)
            raise gave_up from exc
        log.info("LLM transient failure, retrying batch in %.1fs: %s", delay, exc)
        raise task.retry(countdown=delay, exc=exc) from exc
    except PermanentLLMError as exc:
        store.fail(rt.db, payload.evaluation_id, str(exc), task.name)
        raise
    finally:
        close = getattr(retriever, "close", None)
        if close is not None:
            close()
    forget_failures(rt, task.request.id)
    return result


@shared_task(bind=True, name=TaskName.FINALIZE_EVALUATION.value)
def finalize_evaluation(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Write the report, compare it with the KB's previous one, raise the recall-drop alert.

    Idempotent: the report is written once (compare-and-set on status); the alert is published
    once unless that publish failed, in which case a re-run publishes it.
    """
    payload = parse_payload(FinalizeEvaluation, kwargs)
    try:
        rt = _rt()
        result = report.finalize_evaluation(
            rt.db, payload.evaluation_id, settings=rt.settings, publish=_publisher(self)
        )
    except Exception as exc:
        _fail_evaluation(self, payload.evaluation_id, exc)  # never touches a report already written
        raise
    gauges = {"hit_rate": metrics.EVAL_HIT_RATE, "mrr": metrics.EVAL_MRR, "ndcg": metrics.EVAL_NDCG}
    for key, value in (result.get("metrics") or {}).items():
        name, k = key.split("@")
        if name in gauges:  # the report has more metrics; these three are what dashboards chart
            gauges[name].labels(result["kb_id"], k).set(value)
    return result


@shared_task(bind=True, name=TaskName.MAINTAIN_KB.value, max_retries=None)
def maintain_kb(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Merge duplicate chunks and align the vector index of one KB (or all); then, if asked
    (nightly), create and publish that KB's evaluation.

    Idempotent: merges are recomputed from all chunks with deterministic keepers and only
    differences are written; the index converges to Mongo, the source of truth; the evaluation
    has a deterministic id (created once) and its run a deterministic task id. The evaluation is
    published even when maintenance failed (recall is still worth knowing); the task then fails.
    """
    payload = parse_payload(MaintainKb, kwargs)
    rt = _rt()
    kb_ids = [payload.kb_id] if payload.kb_id else store.kb_ids(rt.db)
    retrievers = retrieval.for_runtime(rt)
    reports: dict[str, Any] = {}
    failure: Exception | None = None
    for kb in kb_ids:
        try:
            reports[kb] = maintenance.maintain_kb(rt.db, kb, settings=rt.settings, retrievers=retrievers)
        except Exception as exc:  # one bad KB does not stop the others (nor this KB's evaluation)
            log.exception("maintenance of knowledge base %r failed", kb)
            failure = failure or exc
    if payload.kb_id and payload.evaluation_id:
        create_nightly_evaluation(
            rt.db, payload.kb_id, payload.evaluation_id, settings=rt.settings, maintenance_error=failure
        )
        try:
            _publisher(self)(
                TaskName.RUN_EVALUATION,
                RunEvaluation(evaluation_id=payload.evaluation_id).model_dump(mode="json"),
                f"{payload.evaluation_id}.run",
            )
        except Exception as exc:  # never leave tonight's evaluation "queued" with nobody to run it
            _fail_evaluation(self, payload.evaluation_id, exc)
            raise
    if failure is not None:
        _retry_embeddings_failure(self, rt, failure)
        raise failure
    forget_failures(rt, self.request.id)
    metrics.PERIODIC_LAST_SUCCESS.labels(TaskName.MAINTAIN_KB.value).set(time.time())
    return {kb: {k: r[k] for k in ("chunks", "active", "merged", "changed")} for kb, r in reports.items()}


def _retry_embeddings_failure(task: Task, rt: Runtime, exc: Exception) -> None:
    """An embeddings call of the alignment failed: the LLM policy, as for chat -- a full limiter
    re-queues (not a retry), a transient error retries with backoff and gives up after
    ``RAGTASKS_LLM_MAX_RETRIES`` (``LLMGaveUp``); anything else is left to fail the task."""
    if isinstance(exc, LLMDeferred):
        raise task.retry(countdown=broker_countdown(exc.delay), exc=exc)
    if isinstance(exc, TransientLLMError):
        try:
            delay = next_retry_delay(rt, task.request.id, exc)
        except LLMGaveUp:
            forget_failures(rt, task.request.id)
            raise
        log.info("embeddings transient failure, retrying maintenance in %.1fs: %s", delay, exc)
        raise task.retry(countdown=delay, exc=exc)


@shared_task(bind=True, name=TaskName.NIGHTLY.value)
def nightly(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Fan out one ``maintain_kb`` per KB; each KB to evaluate gets its evaluation after its own
    maintenance (beat runs this at 02:00), so one bad KB neither delays nor skips the others.

    Idempotent: the ``maintain_kb`` task ids and evaluation ids are deterministic per KB and local
    day, so a redelivered nightly re-publishes the same idempotent tasks and creates nothing new.
    """
    payload = parse_payload(Nightly, kwargs)
    rt = _rt()
    wanted = payload.kb_ids if payload.kb_ids is not None else rt.settings.eval_kbs
    day = datetime.now(ZoneInfo(rt.settings.timezone)).strftime("%Y%m%d")
    plan = nightly_plan(store.kb_ids(rt.db), wanted, day)
    publish = _publisher(self)
    for kb_id, evaluation_id in plan.items():
        body = MaintainKb(kb_id=kb_id, evaluation_id=evaluation_id).model_dump(mode="json", exclude_none=True)
        publish(TaskName.MAINTAIN_KB, body, f"nightly-{day}-{kb_id}.maintain")
    metrics.PERIODIC_LAST_SUCCESS.labels(TaskName.NIGHTLY.value).set(time.time())
    return {"maintained": sorted(plan), "evaluations": [e for e in plan.values() if e]}


@shared_task(name=TaskName.EVALUATOR_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Payload, kwargs)
    return "pong"
