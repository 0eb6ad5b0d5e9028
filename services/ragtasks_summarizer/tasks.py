"""Celery tasks of the summarizer queue: deserialize, call the service, map errors to retries."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from ragtasks_core import documents, metrics, outbox
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.common import Payload
from ragtasks_core.contract.summarizer import Ping, SummarizeSession, SummaryReason
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

from . import fold_loop, next_summary, retention, store, wiring

log = logging.getLogger(__name__)


class SummaryTimedOut(SoftTimeLimitExceeded):
    """The soft time limit ended a summary; ``GET /v1/tasks/{id}`` shows the readable reason."""

    def __str__(self) -> str:  # billiard's own __str__ is a tuple repr
        return str(self.args[0]) if self.args else "soft time limit exceeded"


def _rt() -> Runtime:
    """This process's runtime; the first call also ensures the indexes correctness rests on.

    The unique (session, from_seq, upto_seq) index on summaries is what makes a racing or
    redelivered task harmless, so the worker creates it itself rather than trusting the gateway.
    """
    return get_runtime().set_up_once("summarizer-indexes", documents.ensure_indexes)


def _writer(rt: Runtime) -> fold_loop.StepWriter:
    max_tokens = rt.settings.summary_max_tokens
    if rt.llm is None:
        return wiring.extractive_step_writer(max_tokens)
    return wiring.llm_step_writer(limited_chat(rt), max_tokens)


@shared_task(bind=True, name=TaskName.SUMMARIZE_SESSION.value, max_retries=None)
def summarize_session(self: Task, **kwargs: Any) -> dict[str, object]:
    """Write the rolling summary of one session, fold step by fold step (``fold_loop``).

    Idempotent: the watermark moves only by compare-and-set after each step and each (from, to)
    range is summarized once, so a redelivery (acks_late, worker killed) or a racing duplicate
    is harmless and resumes from the last commit. A failed LLM call changes nothing; the
    session's pending slot is released when the task ends either way. A task that ends with
    work left (past its step deadline, or new messages past the threshold) claims and publishes
    the session's next summary itself (``next_summary``).

    Past the soft time limit (``RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS``, e.g. an LLM that hangs
    below its own timeout) the task fails for good: the error is recorded on the session and the
    pending slot released, so the next append or ``/summarize`` can claim a fresh task. Nothing
    was committed, so a later run starts from the same watermark. The hard limit kills the
    child before it can clean up: then the outbox sweep re-publishes the stale pending summary.
    """
    payload = parse_payload(SummarizeSession, kwargs)
    rt = _rt()
    task_id = self.request.id
    first = first_delivery(self.request)
    config = wiring.fold_config(rt.settings, started=time.monotonic(), may_have_run=not first)
    try:
        outcome = fold_loop.fold_session(rt.db, payload.session_id, write=_writer(rt), config=config, slot=task_id)
    except LLMDeferred as exc:
        raise self.retry(countdown=broker_countdown(exc.delay), exc=exc) from exc
    except TransientLLMError as exc:
        try:
            delay = next_retry_delay(rt, task_id, exc)
        except LLMGaveUp as gave_up:
            _give_up(rt, payload.session_id, task_id, str(gave_up))
            raise gave_up from exc
        log.info("LLM transient failure, retrying in %.1fs: %s", delay, exc)
        raise self.retry(countdown=broker_countdown(delay), exc=exc) from exc
    except PermanentLLMError as exc:
        _give_up(rt, payload.session_id, task_id, str(exc))
        raise
    except SoftTimeLimitExceeded as exc:
        reason = f"soft time limit of {rt.settings.task_soft_time_limit_seconds} s exceeded"
        _give_up(rt, payload.session_id, task_id, reason)
        raise SummaryTimedOut(reason) from exc
    if not outcome.released:  # else the last commit freed it in the same update
        store.clear_pending(rt.db, payload.session_id, task_id)
    # A failure count exists only for a task retried or redelivered (or re-published by the sweep
    # after a lost retry: that count expires with its key, FAILURE_COUNT_TTL_SECONDS).
    if not first:
        forget_failures(rt, task_id)
    metrics.SUMMARIES.labels(outcome.model or "none", outcome.status).inc()
    if outcome.steps:
        metrics.SUMMARY_FOLD_STEPS.labels(outcome.model or "none").inc(outcome.steps)
    if outcome.status != "no_session":
        seen = outcome.after if outcome.released else None
        next_summary.claim_next(
            rt.db, payload.session_id, config.policy, _publisher(self), more=outcome.more, seen=seen
        )
    return outcome.as_result()


def first_delivery(request: Any) -> bool:
    """Whether this is the task's first run: no retry yet, and the broker says the message was
    never delivered before (a quorum queue sets ``redelivered`` on every requeue: a consumer gone
    before its ack, ``task_reject_on_worker_lost``). Unknown counts as "may have run before"."""
    info = request.delivery_info or {}
    return not request.retries and info.get("redelivered") is False


def _publisher(task: Task) -> next_summary.Publish:
    def publish(session_id: str, task_id: str, reason: SummaryReason) -> None:
        kwargs = SummarizeSession(session_id=session_id, reason=reason).model_dump(mode="json")
        outbox.send(task.app, TaskName.SUMMARIZE_SESSION.value, kwargs, task_id)

    return publish


def _give_up(rt: Runtime, session_id: str, task_id: str, reason: str) -> None:
    store.clear_pending(rt.db, session_id, task_id, error=reason)
    forget_failures(rt, task_id)
    metrics.SUMMARIES.labels(rt.settings.llm_model, "failed").inc()


@shared_task(name=TaskName.DELETE_IDLE_SESSIONS.value)
def delete_idle_sessions(**kwargs: Any) -> dict[str, int]:
    """Delete sessions idle longer than ``RAGTASKS_SESSION_RETENTION_DAYS`` (beat, nightly).

    Idempotent: each deletion is, and a run cut short leaves the rest for the next night. Unset
    retention keeps everything (the run deletes nothing).
    """
    parse_payload(Payload, kwargs)
    rt = _rt()
    days = rt.settings.session_retention_days
    deleted = 0
    if days is not None:
        stop_at = time.monotonic() + rt.settings.task_soft_time_limit_seconds / 2
        batch = rt.settings.outbox_batch_size
        while time.monotonic() < stop_at:
            count = retention.delete_idle(rt.db, days=days, now=datetime.now(UTC), batch=batch)
            metrics.SESSIONS_DELETED.labels("retention").inc(count)
            deleted += count
            if count < batch:
                break
    if deleted:
        log.info("retention: deleted %d sessions idle for more than %s days", deleted, days)
    return {"deleted": deleted}


@shared_task(name=TaskName.SUMMARIZER_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Ping, kwargs)
    return "pong"
