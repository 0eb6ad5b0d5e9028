"""Alert when a summarizer or evaluator task fails for good.

Celery's ``task_failure`` fires when a task ends in FAILURE: after its retries are exhausted (a
retry raises ``Retry``, not a failure) or on a permanent error. The alert's fingerprint is the
task name plus the exception type, so a storm of identical failures is one alert whose
occurrence count grows, not a storm of messages. It resolves by itself after
``RAGTASKS_ALERT_RESOLVE_TIMEOUT_SECONDS`` without a new failure. Its title and body are written in
``RAGTASKS_ALERT_LANGUAGE`` (zh by default, or en), like the alerter's own wording; the task name
and the exception type stay as they are (they are what an engineer searches for).

The handler never raises into the worker: any error here is logged and dropped. It is connected
by ``install_failure_alerts()``, which the composition root calls for the workers it starts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import signals

from . import outbox, runtime
from .contract import Queue, TaskName, queue_for
from .contract.alerter import MAX_BODY_CHARS, RaiseAlert
from .settings.alerter import AlertLanguage

log = logging.getLogger(__name__)
WATCHED_QUEUES = (Queue.SUMMARIZER, Queue.EVALUATOR)
SOURCE = "task_failure"
# (title, body) per language: ``{task}`` the task name, ``{exc}`` the exception type, ``{id}`` the
# last failed task's id, ``{message}`` its error.
TEXTS: dict[AlertLanguage, tuple[str, str]] = {
    "zh": ("{task} 最终失败：{exc}", "最近一次失败：任务 {id}\n{message}"),
    "en": ("{task} failed for good: {exc}", "Last failure: task {id}\n{message}"),
}


def failure_alert(
    task_name: str,
    task_id: str | None,
    exc: BaseException,
    now: datetime,
    resolve_after: float,
    language: AlertLanguage = "zh",
) -> RaiseAlert:
    exc_type = type(exc).__name__
    message = str(exc) or exc_type
    title, body = TEXTS[language]
    return RaiseAlert(
        fingerprint=f"{SOURCE}:{task_name}:{exc_type}",
        severity="critical",
        title=title.format(task=task_name, exc=exc_type)[:256],
        body=body.format(id=task_id or "?", message=message)[:MAX_BODY_CHARS],
        labels={"task": task_name, "queue": queue_for(task_name).value, "exception": exc_type[:256]},
        source=SOURCE,
        starts_at=now,
        ends_at=now + timedelta(seconds=resolve_after),
    )


def watched(task_name: str) -> bool:
    try:
        return queue_for(task_name) in WATCHED_QUEUES
    except ValueError:
        return False


def install_failure_alerts() -> None:
    """Alert on the permanent failures of this process's tasks (idempotent; signals are process-wide)."""
    signals.task_failure.connect(_task_failed, weak=False, dispatch_uid="ragtasks.failure_alerts")


def _task_failed(
    sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
) -> None:
    try:
        name = getattr(sender, "name", None)
        if not name or exception is None or not watched(name):
            return
        settings = runtime.configured_settings()
        alert = failure_alert(
            name,
            task_id,
            exception,
            datetime.now(UTC),
            settings.alert_resolve_timeout_seconds,
            settings.alert_language,
        )
        # Through the outbox: if the broker is away, the sweep publishes it when it is back.
        outbox.publish_reliably_sync(
            sender.app,
            runtime.get_runtime().db,
            TaskName.RAISE_ALERT.value,
            alert.model_dump(mode="json"),
            outbox.new_task_id(),
        )
    except Exception:
        log.exception("could not raise the failure alert of task %s", task_id)
