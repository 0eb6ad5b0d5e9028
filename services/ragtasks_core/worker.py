"""Start-up of a worker process: its app, with the task modules it runs, and the queue topology.

The composition root (``ragtasks_cli.worker``) decides which task modules a worker runs and
installs its signal handlers (``worker_signals``, ``failure_alerts``); nothing here imports
a service package or connects anything on import.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from celery import Celery

from . import metrics, runtime
from .celery_app import create_celery, dead_letter_queues, task_queues
from .contract import Queue
from .settings import Settings


def declare_topology(app: Celery) -> None:
    """Declare task queues and their dead-letter queues (idempotent)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in dead_letter_queues() + task_queues(runtime.configured_settings()):
            queue.bind(channel).declare()


LLM_QUEUES = (Queue.SUMMARIZER, Queue.EVALUATOR)


def build_worker_app(settings: Settings, queue: Queue, *, task_modules: Sequence[str]) -> Celery:
    """The Celery app of the ``queue`` worker; importing ``task_modules`` registers its tasks."""
    runtime.configure(settings)
    app = create_celery(settings)
    # Messages Celery refuses (undecodable, unknown task) go to the DLQ with a reason, never dropped.
    app.conf.worker_consumer = "ragtasks_core.consumer:DeadLetteringConsumer"
    for module in task_modules:
        importlib.import_module(module)
    metrics.init_task_series(metrics.tasks_of(queue))
    # Beat's retention run lands on whichever worker takes it from ``maintenance``: every worker
    # exports the series at zero, so a deletion rate reads 0 rather than "no data".
    metrics.init_session_series(("retention",))
    if settings.llm_base_url and queue in LLM_QUEUES:
        # The LLM client is built lazily in each child; its series should exist before the first call.
        metrics.init_llm_series(settings.llm_model)
    metrics.set_build_info()
    return app
