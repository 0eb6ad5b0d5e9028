"""Celery tasks of the summarizer queue: deserialize, call the service, map errors to retries."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from ragtasks_core import metrics, mongo
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.summarizer import Ping, SummarizeSession
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

from . import service, store

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
    return get_runtime().set_up_once("summarizer-indexes", mongo.ensure_indexes)


def _writer(rt: Runtime) -> service.Writer:
    max_tokens = rt.settings.summary_max_tokens
    if rt.llm is None:
        return service.extractive_writer(max_tokens)
    chat = limited_chat(rt)

    def ask(messages: list[dict[str, str]], limit: int) -> tuple[str, str]:
        completion = chat(messages, limit)
        return completion.text, completion.model

    return service.llm_writer(ask, max_tokens)


@shared_task(bind=True, name=TaskName.SUMMARIZE_SESSION.value, max_retries=None)
def summarize_session(self: Task, **kwargs: Any) -> dict[str, object]:
    """Write the rolling summary of one session.

    Idempotent: the watermark moves only by compare-and-set and each (from, to) range is
    summarized once, so a redelivery (acks_late, worker killed) or a racing duplicate is
    harmless. A failed LLM call changes nothing; the session's pending slot is released when
    the task ends either way.

    Past the soft time limit (``RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS``, e.g. an LLM that hangs
    below its own timeout) the task fails for good: the error is recorded on the session and the
    pending slot released, so the next append or ``/summarize`` can claim a fresh task. Nothing
    was committed, so a later run starts from the same watermark. The hard limit kills the
    child before it can clean up: then the outbox sweep re-publishes the stale pending summary.
    """
    payload = parse_payload(SummarizeSession, kwargs)
    rt = _rt()
    task_id = self.request.id
    try:
        outcome = service.summarize(
            rt.db, payload.session_id, writer=_writer(rt), keep_recent=rt.settings.summary_keep_recent_messages
        )
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
    store.clear_pending(rt.db, payload.session_id, task_id)
    forget_failures(rt, task_id)
    metrics.SUMMARIES.labels(outcome.model or "none", outcome.status).inc()
    return outcome.as_result()


def _give_up(rt: Runtime, session_id: str, task_id: str, reason: str) -> None:
    store.clear_pending(rt.db, session_id, task_id, error=reason)
    forget_failures(rt, task_id)
    metrics.SUMMARIES.labels(rt.settings.llm_model, "failed").inc()


@shared_task(name=TaskName.SUMMARIZER_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Ping, kwargs)
    return "pong"


from . import sweep  # noqa: E402, F401 -- registers ragtasks.summarizer.sweep_outbox
