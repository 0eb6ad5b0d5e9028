"""Start-up of a worker process: topology, metrics endpoint, per-process resources, task metrics."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from celery import Celery, signals
from celery.app.task import Task
from prometheus_client import make_wsgi_app, multiprocess
from prometheus_client.exposition import ThreadingWSGIServer

from . import failure_alerts, metrics, runtime  # noqa: F401 -- failure_alerts connects the task-failure alert
from .celery_app import PUBLISHED_AT_HEADER, create_celery, dead_letter_queues, task_queues
from .contract import PERIODIC_TASKS, Queue, queue_for
from .settings import Settings

log = logging.getLogger(__name__)

# The module that registers each worker's tasks.
TASK_MODULES = {
    Queue.SUMMARIZER: "ragtasks_summarizer.tasks",
    Queue.EVALUATOR: "ragtasks_evaluator.tasks",
    Queue.ALERTER: "ragtasks_alerter.tasks",
}


def declare_topology(app: Celery) -> None:
    """Declare task queues and their dead-letter queues (idempotent)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in dead_letter_queues() + task_queues(runtime.configured_settings()):
            queue.bind(channel).declare()


LLM_QUEUES = (Queue.SUMMARIZER, Queue.EVALUATOR)


def build_worker_app(settings: Settings, queue: Queue) -> Celery:
    runtime.configure(settings)
    app = create_celery(settings)
    # Messages Celery refuses (undecodable, unknown task) go to the DLQ with a reason, never dropped.
    app.conf.worker_consumer = "ragtasks_core.dlq:DeadLetteringConsumer"
    importlib.import_module(TASK_MODULES[queue])
    metrics.init_task_series(metrics.tasks_of(queue))
    if settings.llm_base_url and queue in LLM_QUEUES:
        # The LLM client is built lazily in each child; its series should exist before the first call.
        metrics.init_llm_series(settings.llm_model)
    metrics.set_build_info()
    return app


# --- metrics endpoint --------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_processes(directory: str) -> None:
    """Drop the live-gauge files of processes that are gone.

    A child that exits cleanly marks itself dead, but one killed by the hard time limit, the OOM
    killer or ``kill -9`` cannot: without this, ``ragtasks_tasks_in_progress`` would count its
    last task forever. Counters are untouched (their files stay and keep counting).
    """
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.match(name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)


def serve_metrics(port: int, host: str = "0.0.0.0") -> ThreadingWSGIServer:
    """Serve ``/metrics`` (aggregated over prefork children) and ``/healthz`` in a thread."""
    metrics_app = make_wsgi_app(metrics.registry_for_scrape())
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if directory:
            reap_dead_processes(directory)
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


# --- signals: per-process resources and task metrics -----------------------------------------


@signals.worker_process_init.connect
def _child_started(**_: Any) -> None:
    runtime.get_runtime()


@signals.worker_process_shutdown.connect
def _child_stopping(pid: int | None = None, **_: Any) -> None:
    runtime.close_runtime()
    if metrics.multiprocess_enabled():
        multiprocess.mark_process_dead(os.getpid())


@signals.worker_shutdown.connect
def _worker_stopping(**_: Any) -> None:
    runtime.close_runtime()


def _labels(task: Task) -> tuple[str, str]:
    name = task.name
    try:
        return name, queue_for(name).value
    except ValueError:
        return name, "unknown"


_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id: str, task: Task, **_: Any) -> None:
    name, queue = _labels(task)
    _started[task_id] = time.perf_counter()
    metrics.TASKS_IN_PROGRESS.labels(name, queue).inc()
    published = getattr(task.request, PUBLISHED_AT_HEADER, None)
    if published is None and task.request.headers:
        published = task.request.headers.get(PUBLISHED_AT_HEADER)
    if published is not None:
        with contextlib.suppress(TypeError, ValueError):
            metrics.TASK_QUEUE_WAIT.labels(name, queue).observe(max(0.0, time.time() - float(published)))


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


@signals.task_postrun.connect
def _task_finished(
    task_id: str, task: Task, state: str | None = None, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    name, queue = _labels(task)
    metrics.TASKS_IN_PROGRESS.labels(name, queue).dec()
    started = _started.pop(task_id, None)
    duration = time.perf_counter() - started if started is not None else None
    if duration is not None:
        metrics.TASK_DURATION.labels(name, queue).observe(duration)
    outcome = _STATE_OUTCOME.get(state or "", "failure")
    metrics.TASKS.labels(name, queue, outcome).inc()
    if outcome == "success" and name in PERIODIC_TASKS:
        metrics.PERIODIC_LAST_SUCCESS.labels(name).set_to_current_time()
    fields: dict[str, Any] = {"task_id": task_id, "task": name, "queue": queue, "outcome": outcome}
    if duration is not None:
        fields["duration_seconds"] = round(duration, 4)
    for key in _LOGGED_IDS:
        if isinstance(kwargs, dict) and isinstance(kwargs.get(key), str):
            fields[key] = kwargs[key]
    log.info("task %s", outcome, extra=fields)
