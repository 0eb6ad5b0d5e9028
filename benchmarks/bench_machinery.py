"""The worker machinery beside bare Celery: N pre-published no-op tasks drained, same run, same queue type.

- ragtasks: ``.venv/bin/ragtasks worker summarizer --concurrency 2`` (the console script, prefork,
  its multiprocess metrics directory, logging, signal handlers, the dead-lettering consumer, task
  events) drains ``ragtasks.summarizer.ping``.
- baseline: a bare Celery app with the same reliability settings: a quorum queue, ``acks_late``,
  ``task_reject_on_worker_lost``, prefetch 1, JSON, Redis result backend, ``task_track_started``,
  ``celery worker --pool=prefork -c 2 --without-gossip --without-mingle``. Nothing else.
Each round publishes N tasks while no worker runs, then starts the worker. The drain time runs
from the first task's start (its STARTED/SUCCESS result appearing in Redis) to every result being
present in Redis; rate = (N - 1) / drain. Over the same span, the worker's CPU (utime+stime of the
worker and its pool children, from /proc) / (N - 1) is its CPU per task: on a shared machine the
rates swing with other load, the CPU per task much less. The two alternate (ragtasks, bare, ragtasks, ...) in one
vhost of their own; the median of ``--rounds`` rounds of each is reported, with the ratio.

    .venv/bin/python -m benchmarks.bench_machinery [--tasks 2000] [--rounds 3] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Exchange
from kombu import Queue as KombuQueue
from tests.support import procs
from tests.support.services import redis_url

from benchmarks import machinery_costs
from benchmarks.common import LOG_DIR, Stack, cpu_seconds, spawn, stack

BARE_QUEUE = "bench.machinery"
BARE_TASK = "bench.ping"

# The bare app, importable by ``celery -A benchmarks.bench_machinery:bare worker``.
bare = Celery(
    "bench-bare", broker=os.environ.get("BENCH_BROKER_URL", "amqp://"), backend=os.environ.get("BENCH_REDIS_URL")
)
bare.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    task_queues=[
        KombuQueue(
            BARE_QUEUE,
            Exchange(BARE_QUEUE, type="direct", durable=True),
            routing_key=BARE_QUEUE,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
    ],
    task_default_queue=BARE_QUEUE,
    worker_hijack_root_logger=False,
)
BARE_ARGS = ["-m", "celery", "-A", "benchmarks.bench_machinery:bare", "worker", "--pool=prefork"]
BARE_ARGS += ["--prefetch-multiplier=1", "--without-gossip", "--without-mingle", "-l", "info", "-Q", BARE_QUEUE]


@bare.task(name=BARE_TASK)
def bare_ping(**_: Any) -> str:
    return "pong"


def _results_present(app: Celery, ids: Sequence[str]) -> int:
    """How many of ``ids`` have a result key in Redis (STARTED counts for the first one only)."""
    backend: Any = app.backend
    keys = [backend.get_key_for_task(i) for i in ids]
    present = 0
    for start in range(0, len(keys), 500):
        present += sum(v is not None for v in backend.client.mget(keys[start : start + 500]))
    return present


@dataclass
class Drain:
    seconds: float  # first task started -> every result present
    cpu_seconds: float  # the worker's process tree (parent and pool children) over the same span
    worker: Any


def _drain(app: Celery, ids: list[str], start_worker: Callable[[], Any], timeout: float) -> Drain:
    """Start the worker on a full queue; time and worker CPU from the first task's start to all results."""
    backend: Any = app.backend
    first, last = backend.get_key_for_task(ids[0]), backend.get_key_for_task(ids[-1])
    worker = start_worker()
    try:
        deadline = time.monotonic() + timeout
        while backend.client.get(first) is None:  # task_track_started: STARTED lands before the work
            if time.monotonic() > deadline:
                raise TimeoutError("the first task never started")
            time.sleep(0.002)
        started, cpu_before = time.perf_counter(), cpu_seconds(worker.popen.pid)
        # The queue is FIFO and prefetch 1: the last task is among the last to finish. Poll it only,
        # lightly (this machine's cores are shared with the worker), then check every result.
        while True:
            while backend.client.get(last) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(ids) - _results_present(app, ids)} results missing")
                time.sleep(0.005)
            if _results_present(app, ids) == len(ids):
                seconds = time.perf_counter() - started
                return Drain(seconds, cpu_seconds(worker.popen.pid) - cpu_before, worker)
            time.sleep(0.005)
    except BaseException:
        worker.stop()
        raise


def _publish(app: Celery, task: str, count: int, prefix: str) -> list[str]:
    ids = [f"{prefix}-{uuid.uuid4().hex}" for _ in range(count)]
    for task_id in ids:
        app.send_task(task, kwargs={"v": 1}, task_id=task_id)
    return ids


def ragtasks_env(s: Stack, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: JSON logs, as deployed (the default), plus ``extra`` variables."""
    return {**s.env(LOG_JSON="true"), **(extra or {})}


def ragtasks_round(
    s: Stack, tasks: int, concurrency: int, *, env: Mapping[str, str] | None = None, extra_args: Sequence[str] = ()
) -> tuple[float, float]:
    """One drain by ``ragtasks worker summarizer``; ``env``/``extra_args`` are the profiling toggles."""
    # Imported here: the bare worker imports this module and must load nothing of ragtasks.
    from ragtasks_core.celery_app import create_celery
    from ragtasks_core.contract import Queue, TaskName
    from ragtasks_core.settings import Settings

    full_env = ragtasks_env(s, env)
    ours = {k[len("RAGTASKS_") :].lower(): v for k, v in full_env.items() if k.startswith("RAGTASKS_")}
    settings = Settings(**ours)  # type: ignore[arg-type]
    app = create_celery(settings)
    app.conf.task_send_sent_event = False  # the publisher is not measured: publish fast
    try:
        ids = _publish(app, TaskName.SUMMARIZER_PING.value, tasks, "machinery")

        def start() -> procs.Proc:
            return procs.start_worker(
                Queue.SUMMARIZER.value, full_env, LOG_DIR, concurrency=concurrency, extra_args=list(extra_args)
            )

        drain = _drain(app, ids, start, timeout=60 + tasks / 10)
        drain.worker.stop()
        return _numbers(drain, tasks)
    finally:
        app.close()


def bare_round(s: Stack, tasks: int, concurrency: int) -> tuple[float, float]:
    env = {"BENCH_BROKER_URL": s.vhost.broker_url, "BENCH_REDIS_URL": redis_url()}  # the worker's import
    bare.conf.broker_url, bare.conf.result_backend = s.vhost.broker_url, redis_url()
    ids = _publish(bare, BARE_TASK, tasks, "bare")

    def start() -> Any:
        return spawn("bare-celery", [*BARE_ARGS, f"-c{concurrency}"], env, ready_text=" ready.")

    drain = _drain(bare, ids, start, timeout=60 + tasks / 10)
    drain.worker.stop()
    return _numbers(drain, tasks)


def _numbers(drain: Drain, tasks: int) -> tuple[float, float]:
    """Tasks per second and worker CPU ms per task (the first task's start is the clock's start)."""
    return (tasks - 1) / drain.seconds, drain.cpu_seconds * 1000 / (tasks - 1)


def run(tasks: int, rounds: int, concurrency: int) -> dict[str, object]:
    with stack() as s:
        return measure(s, tasks, rounds, concurrency)


def measure(s: Stack, tasks: int, rounds: int, concurrency: int) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a handful of tasks."""
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for _ in range(rounds):  # alternating, so a slow spell of the shared machine hits both
        ours.append(ragtasks_round(s, tasks, concurrency))
        base.append(bare_round(s, tasks, concurrency))
    ours_median, base_median = statistics.median(r for r, _ in ours), statistics.median(r for r, _ in base)
    ours_cpu, base_cpu = statistics.median(c for _, c in ours), statistics.median(c for _, c in base)
    return {
        "benchmark": "worker_machinery",
        "tasks": tasks,
        "rounds": rounds,
        "concurrency": concurrency,
        "queue_type": "quorum",
        "measured": "first task started -> every result in Redis",
        "ragtasks_tasks_per_second": round(ours_median, 1),
        "bare_celery_tasks_per_second": round(base_median, 1),
        "ragtasks_rounds": [round(r, 1) for r, _ in ours],
        "bare_rounds": [round(r, 1) for r, _ in base],
        "throughput_ratio": round(ours_median / base_median, 3),
        # CPU says what each task costs even when other load on the machine skews the rates.
        "ragtasks_cpu_ms_per_task": round(ours_cpu, 3),
        "bare_cpu_ms_per_task": round(base_cpu, 3),
        "cpu_ratio": round(ours_cpu / base_cpu, 3) if base_cpu else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    report = run(args.tasks, args.rounds, args.concurrency)
    report["per_task_costs"] = machinery_costs.in_subprocess()  # the pieces, CPU µs each (README)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
