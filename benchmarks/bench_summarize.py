"""End-to-end summarize throughput beside a bare-Celery baseline, measured in the same run.

- ragtasks: ``ragtasks worker summarizer`` (prefork, concurrency C) summarizing N seeded sessions
  through the real ``openai`` client against a fake LLM that answers after a fixed latency
  (rate limit set high, so it never binds). Each task: payload validation, Mongo reads, one LLM
  call, summary record, compare-and-set commit, Redis result, metrics.
- baseline: a minimal Celery app whose task only sleeps the same latency, prefork ``-c C``,
  ``acks_late``, prefetch 1, Redis result backend, same broker.
Throughput = N / (time from the first publish to the last result). Prints one JSON line.

    .venv/bin/python -m benchmarks.bench_summarize [--tasks 200] [--concurrency 4] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI
from tests.support.services import redis_url

from benchmarks.common import LOG_DIR, Stack, spawn, stack
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_core.tokens import count_message_tokens

# The baseline app, importable by ``celery -A benchmarks.bench_summarize:baseline worker``.
baseline = Celery(
    "bench-baseline", broker=os.environ.get("BENCH_BROKER_URL", "amqp://"), backend=os.environ.get("BENCH_REDIS_URL")
)
baseline.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


CELERY_ARGS = ["-m", "celery", "-A", "benchmarks.bench_summarize:baseline", "worker", "--pool=prefork"]
CELERY_ARGS += ["--prefetch-multiplier=1", "--without-gossip", "--without-mingle", "-l", "info"]


@baseline.task(name="bench.sleep")
def sleep_task(seconds: float) -> str:
    time.sleep(seconds)
    return "ok"


def wait_all(app: Celery, ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if AsyncResult(i, app=app).state not in ("SUCCESS", "FAILURE")]
        if pending:
            time.sleep(0.05)
    if pending:
        raise TimeoutError(f"{len(pending)} tasks unfinished")
    failed = [i for i in ids if AsyncResult(i, app=app).state != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} tasks failed, e.g. {AsyncResult(failed[0], app=app).result!r}")


def seed(db: Any, prefix: str, count: int) -> list[str]:
    ids: list[str] = []
    for n in range(count):
        sid = f"{prefix}-{n}"
        docs: list[dict[str, Any]] = [
            {"session_id": sid, "seq": i, "role": role, "content": text, "tokens": count_message_tokens(role, text)}
            for i, (role, text) in enumerate(
                [("user", "我想退货，耳机有杂音。"), ("assistant", "30 天内可退。"), ("user", "好的，谢谢。")], start=1
            )
        ]
        db.messages.insert_many(docs)
        db.sessions.insert_one(
            {
                "_id": sid,
                "last_seq": 3,
                "tokens_since_summary": sum(d["tokens"] for d in docs),
                "summary": None,
                "summary_upto_seq": 0,
                "summary_pending": None,
            }
        )
        ids.append(sid)
    return ids


def run_ragtasks(s: Stack, tasks: int, concurrency: int, latency: float) -> float:
    fake = FakeOpenAI(latency_seconds=latency, default_text="summary").start()
    env = s.env(
        LLM_BASE_URL=fake.base_url,
        LLM_API_KEY="sk-bench",
        LLM_RATE_LIMIT="100000/s",
        SUMMARY_KEEP_RECENT_MESSAGES="1",
    )
    worker = procs.start_worker("summarizer", env, LOG_DIR, concurrency=concurrency)
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
    app = create_celery(Settings(**{k[len("RAGTASKS_") :].lower(): v for k, v in env.items()}))  # type: ignore[arg-type]
    try:
        db = client[s.db_name]

        def batch(prefix: str, count: int) -> float:
            sessions = seed(db, prefix, count)
            ids = [f"{prefix}-{uuid.uuid4().hex}" for _ in sessions]
            started = time.perf_counter()
            for sid, task_id in zip(sessions, ids, strict=True):
                app.send_task(TaskName.SUMMARIZE_SESSION.value, kwargs={"v": 1, "session_id": sid}, task_id=task_id)
            wait_all(app, ids)
            return time.perf_counter() - started

        batch("warm", concurrency * 2)
        wall = batch("measured", tasks)
        committed = db.sessions.count_documents({"_id": {"$regex": "^measured-"}, "summary_upto_seq": 2})
        if committed != tasks:
            raise RuntimeError(f"only {committed}/{tasks} summaries committed")
        return tasks / wall
    finally:
        app.close()
        client.close()
        worker.stop()
        fake.stop()


def run_baseline(s: Stack, tasks: int, concurrency: int, latency: float) -> float:
    broker = s.vhost.broker_url
    env = {"BENCH_BROKER_URL": broker, "BENCH_REDIS_URL": redis_url()}  # for the worker's import
    baseline.conf.broker_url, baseline.conf.result_backend = broker, redis_url()
    worker = spawn(
        "baseline-celery",
        [*CELERY_ARGS, f"-c{concurrency}"],
        env,
        ready_text=" ready.",
    )
    try:

        def batch(count: int) -> float:
            started = time.perf_counter()
            ids = [sleep_task.apply_async(args=[latency]).id for _ in range(count)]
            wait_all(baseline, ids)
            return time.perf_counter() - started

        batch(concurrency * 2)
        return tasks / batch(tasks)
    finally:
        worker.stop()


def run(tasks: int, concurrency: int, latency: float) -> dict[str, object]:
    with stack() as s:
        return measure(s, tasks, concurrency, latency)


def measure(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a handful of tasks."""
    ours = run_ragtasks(s, tasks, concurrency, latency)
    base = run_baseline(s, tasks, concurrency, latency)
    return {
        "benchmark": "summarize_end_to_end",
        "tasks": tasks,
        "concurrency": concurrency,
        "llm_latency_seconds": latency,
        "ragtasks_tasks_per_second": round(ours, 2),
        "baseline_celery_tasks_per_second": round(base, 2),
        "ideal_tasks_per_second": round(concurrency / latency, 2),
        "throughput_ratio": round(ours / base, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    print(json.dumps(run(args.tasks, args.concurrency, args.latency)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
