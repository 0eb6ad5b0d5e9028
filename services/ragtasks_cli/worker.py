"""``ragtasks worker NAME``: one worker on its own queue, wired here and nowhere else.

What a worker runs is decided in this module: the task modules whose ``@shared_task``
definitions it registers (``TASK_MODULES``), its signal handlers (tracing, task metrics and
per-process resources, the failure alerts), its queue topology and its metrics endpoint.
"""

from __future__ import annotations

import argparse
import gc

from ragtasks_core.contract import MAINTENANCE_QUEUE, Queue
from ragtasks_core.settings import Settings

from .alerts import check_routes_file
from .common import settings_with_logging
from .multiproc import ensure_multiproc_dir

# The modules whose tasks each worker registers: importing one defines its tasks. Names, not
# imports, so that the gateway and beat processes never load worker code.
TASK_MODULES: dict[Queue, tuple[str, ...]] = {
    Queue.SUMMARIZER: ("ragtasks_summarizer.tasks", "ragtasks_summarizer.sweep"),
    Queue.EVALUATOR: ("ragtasks_evaluator.tasks",),
    Queue.ALERTER: ("ragtasks_alerter.tasks",),
}


# Beat's scheduled tasks (``contract.SCHEDULED_TASKS``) live in these modules; every worker loads
# them and consumes ``maintenance`` besides its own queue, so no periodic job depends on one worker.
PERIODIC_TASK_MODULES = (
    "ragtasks_summarizer.sweep",
    "ragtasks_summarizer.tasks",
    "ragtasks_evaluator.tasks",
    "ragtasks_alerter.tasks",
)


def task_modules_for(queue: Queue) -> tuple[str, ...]:
    """The queue's own task modules, then the periodic ones it does not already load."""
    own = TASK_MODULES[queue]
    return own + tuple(module for module in PERIODIC_TASK_MODULES if module not in own)


def counts_tokens(queue: Queue, settings: Settings) -> bool:
    """Every fold step counts tokens; the evaluator only to fit an LLM question prompt."""
    return queue is Queue.SUMMARIZER or (queue is Queue.EVALUATOR and settings.llm_base_url is not None)


def talks_to_an_llm(queue: Queue, settings: Settings) -> bool:
    """The summarizer and evaluator with an LLM configured (another worker running a maintenance
    task that needs it imports the client then)."""
    return settings.llm_base_url is not None and queue in (Queue.SUMMARIZER, Queue.EVALUATOR)


def check_retry_delays(settings: Settings) -> None:
    """Refuse to start with a CLI message, not a traceback from inside Celery's consumer (which
    makes the same check for workers started some other way)."""
    from ragtasks_core.consumer import retry_delay_problem

    problem = retry_delay_problem(settings)
    if problem is not None:
        raise SystemExit(f"ragtasks worker: {problem}")


def check_summary_prompt(settings: Settings) -> None:
    """Every summary reads RAGTASKS_SUMMARY_PROMPT_FILE: a missing, empty or oversized file would
    fail each one, so the summarizer refuses to start instead, saying which file and why."""
    from ragtasks_summarizer.policy import load_instruction

    try:
        load_instruction(settings.summary_prompt_file)
    except ValueError as exc:
        raise SystemExit(f"ragtasks worker: {exc}") from None


def run(args: argparse.Namespace) -> None:
    from ragtasks_core import llm, tokens
    from ragtasks_core.failure_alerts import install_failure_alerts
    from ragtasks_core.metrics_server import serve_metrics
    from ragtasks_core.worker import build_worker_app, declare_topology
    from ragtasks_core.worker_signals import install_worker_signals, install_worker_tracing

    settings = settings_with_logging()
    queue = Queue(args.name)
    # Every worker, not the alerter alone: beat's flush_alerts comes through the maintenance queue
    # to whichever worker takes it, and reads the routes file there.
    check_routes_file(settings)
    check_retry_delays(settings)
    if queue is Queue.SUMMARIZER:
        check_summary_prompt(settings)
    prefork = (args.pool or settings.worker_pool) == "prefork"
    if prefork:
        ensure_multiproc_dir()
    app = build_worker_app(settings, queue, task_modules=task_modules_for(queue))
    install_worker_tracing(queue.value, prefork=prefork)
    install_worker_signals(app)
    install_failure_alerts()
    declare_topology(app)
    if talks_to_an_llm(queue, settings):
        llm.warm_up()  # the openai client's import, shared with the children like the tokenizer
    if counts_tokens(queue, settings):
        # Loaded before the pool forks, so the children share it instead of each spending its
        # first task's seconds on it; the other workers never pay the import (1-2 s).
        tokens.warm_up()
    serve_metrics(args.metrics_port or settings.metrics_port_for(queue.value), settings.effective_metrics_host)
    if prefork:
        # Celery runs gc.collect() before every fork of a pool child (start and each recycle);
        # freezing what start-up allocated (pydantic, pymongo, openai, prometheus) keeps those
        # collections short and the pages shared copy-on-write with the children (issue 17).
        gc.freeze()
    app.worker_main(celery_worker_argv(args, settings))


def celery_worker_argv(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The Celery command line of ``ragtasks worker NAME``: its own queue and ``maintenance``, its own
    concurrency."""
    queue = Queue(args.name)
    return [
        "worker",
        f"--queues={queue.value},{MAINTENANCE_QUEUE}",
        f"--concurrency={args.concurrency or settings.concurrency_for(queue.value)}",
        f"--pool={args.pool or settings.worker_pool}",
        f"--hostname={args.hostname or queue.value + '@%h'}",
        f"--loglevel={settings.log_level}",
        f"--prefetch-multiplier={args.prefetch_multiplier or 1}",
        f"--max-tasks-per-child={args.max_tasks_per_child or settings.worker_max_tasks_per_child}",
        # Gossip and mingle cost start-up time and broker traffic that nothing here uses.
        "--without-gossip",
        "--without-mingle",
    ]
