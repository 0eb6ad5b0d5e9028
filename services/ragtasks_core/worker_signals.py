"""A worker's Celery signal handlers: per-process resources and task metrics.

Nothing is connected when this module is imported: the composition root (``ragtasks_cli``) calls
``install_worker_signals(app)`` for the worker it starts. Celery's signals are process-wide, so
the handlers serve every app of the process; connecting twice is a no-op (each receiver is
connected under a fixed ``dispatch_uid``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, signals
from celery.app.task import Task
from prometheus_client import multiprocess

from . import metrics, runtime, tracing
from .celery_app import PUBLISHED_AT_HEADER
from .contract import PERIODIC_TASKS, queue_for

log = logging.getLogger(__name__)


def install_worker_signals(app: Celery) -> None:
    """Connect the handlers a worker process of ``app`` needs (idempotent).

    ``app`` is the worker's app; the handlers need nothing from it, as Celery's signals are
    process-wide, but the call site then reads like the wiring it is.
    """
    connections: list[tuple[Any, Any]] = [
        (signals.worker_process_init, _child_started),
        (signals.worker_process_shutdown, _child_stopping),
        (signals.worker_shutdown, _worker_stopping),
        (signals.task_prerun, _task_started),
        (signals.task_postrun, _task_finished),
    ]
    for signal, handler in connections:
        signal.connect(handler, weak=False, dispatch_uid=f"ragtasks.worker.{handler.__name__}")


def install_worker_tracing(component: str, *, prefork: bool) -> None:
    """Tracing for a worker (``ragtasks-<component>``); nothing at all when ``OTEL_*`` asks for none.

    A prefork parent only hands out tasks: each child makes its own tracer provider after the
    fork (``worker_process_init``), since a provider's export thread does not survive one, and
    flushes it when it stops. Other pools run tasks in this process: set up here and now. Call
    this before ``install_worker_signals`` so a child traces before it opens its clients.
    """
    if not tracing.enabled():
        return
    if not prefork:
        tracing.setup_tracing(component)
        return

    def child_tracing(**_: Any) -> None:
        tracing.setup_tracing(component)

    signals.worker_process_init.connect(child_tracing, weak=False, dispatch_uid="ragtasks.worker.child_tracing")
    signals.worker_process_shutdown.connect(_flush_tracing, weak=False, dispatch_uid="ragtasks.worker.flush_tracing")


def _flush_tracing(**_: Any) -> None:
    tracing.flush_tracing()


# --- per-process resources ---------------------------------------------------------------------


def _child_started(**_: Any) -> None:
    runtime.get_runtime()


def _child_stopping(pid: int | None = None, **_: Any) -> None:
    runtime.close_runtime()
    if metrics.multiprocess_enabled():
        multiprocess.mark_process_dead(os.getpid())


def _worker_stopping(**_: Any) -> None:
    runtime.close_runtime()


# --- task metrics and the task log line ---------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """One task's metric children, looked up once per process instead of five ``labels()`` (each
    a lock and a tuple) per task. The children are the same objects ``labels()`` returns, so the
    multiprocess values (one mmapped file per process, keyed by pid) stay exact under prefork."""

    queue: str
    in_progress: Any
    duration: Any
    queue_wait: Any
    outcomes: dict[str, Any]


@functools.cache
def _series(name: str) -> _Series:
    try:
        queue = queue_for(name).value
    except ValueError:
        queue = "unknown"
    return _Series(
        queue,
        metrics.TASKS_IN_PROGRESS.labels(name, queue),
        metrics.TASK_DURATION.labels(name, queue),
        metrics.TASK_QUEUE_WAIT.labels(name, queue),
        {outcome: metrics.TASKS.labels(name, queue, outcome) for outcome in metrics.TASK_OUTCOMES},
    )


_started: dict[str, float] = {}


def _task_started(task_id: str, task: Task, **_: Any) -> None:
    series = _series(task.name)
    _started[task_id] = time.perf_counter()
    series.in_progress.inc()
    request = task.request  # a look-up on the request stack: once
    published = getattr(request, PUBLISHED_AT_HEADER, None)
    if published is None and request.headers:
        published = request.headers.get(PUBLISHED_AT_HEADER)
    if published is not None:
        with contextlib.suppress(TypeError, ValueError):
            series.queue_wait.observe(max(0.0, time.time() - float(published)))


# IGNORED: an invalid payload, dead-lettered with its reason by parse_payload.
_STATE_OUTCOME = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "RETRY": "retry",
    "REJECTED": "rejected",
    "IGNORED": "rejected",
}


# Ids worth a log field when a payload carries them (never message text or secrets).
_LOGGED_IDS = ("session_id", "kb_id", "evaluation_id", "fingerprint")


def _task_finished(
    task_id: str, task: Task, state: str | None = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    name = task.name
    series = _series(name)
    queue = series.queue
    series.in_progress.dec()
    started = _started.pop(task_id, None)
    duration = time.perf_counter() - started if started is not None else None
    if duration is not None:
        series.duration.observe(duration)
    outcome = _STATE_OUTCOME.get(state or "", "failure")
    series.outcomes[outcome].inc()
    if outcome == "success" and name in PERIODIC_TASKS:
        metrics.PERIODIC_LAST_SUCCESS.labels(name).set_to_current_time()
    fields: dict[str, Any] = {"task_id": task_id, "task": name, "queue": queue, "outcome": outcome}
    if duration is not None:
        fields["duration_seconds"] = round(duration, 4)
    for key in _LOGGED_IDS:
        if isinstance(kwargs, dict) and isinstance(kwargs.get(key), str):
            fields[key] = kwargs[key]
    # The one line per task (Celery's own per-task INFO lines are off, see logs.setup_logging): its
    # text names the task and id too, so plain-text logs can be followed by task id.
    log.info("task %s: %s[%s]", outcome, name, task_id, extra=fields)
