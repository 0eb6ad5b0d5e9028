"""End-to-end summarize throughput beside a bare-Celery baseline, measured in the same run.

- ragtasks: ``ragtasks worker summarizer`` (prefork, concurrency C) summarizing N seeded sessions
  through the real ``openai`` client against a fake LLM that answers after a fixed latency
  (rate limit set high, so it never binds). Each task: payload validation, Mongo reads, one LLM
  call, summary record, compare-and-set commit, Redis result, metrics.
- baseline: a minimal Celery app whose task only sleeps the same latency, prefork ``-c C``,
  ``acks_late``, prefetch 1, Redis result backend, same broker.
- direct baseline: the same minimal app's ``bench.summarize_direct``, doing a summary's reads and
  writes straight with PyMongo (read the session, read the messages, one raw HTTP call to the same
  fake LLM, insert the summary, compare-and-set the session) -- what the work costs without ragtasks.
Throughput = N / (time from the first publish to the last result). Beside it, for ragtasks and the
direct baseline: the worker's CPU per summary (utime+stime of the worker and its pool children over
the measured batch / N) and the Mongo server's CPU per summary and share of the two, as on this
machine the Mongo server (SecantusDB, Python) shares the cores. Prints one JSON line.

    .venv/bin/python -m benchmarks.bench_summarize [--tasks 200] [--concurrency 4] [--latency 0.05]
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery
from pymongo import MongoClient
from tests.support.fake_openai import FakeOpenAI
from tests.support.services import redis_url
from tests.support.sessions import seed_sessions

from benchmarks.common import Child, Stack, main_for, mongo_pid, run_summarizer, spawn, wait_all, with_cpu

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


# The seeded conversation: three messages, the newest kept verbatim, so each task folds two.
CONVERSATION = ["我想退货，耳机有杂音。", "30 天内可退。", "好的，谢谢。"]


@baseline.task(name="bench.sleep")
def sleep_task(seconds: float) -> str:
    time.sleep(seconds)
    return "ok"


_direct_db: Any = None
_direct_http: Any = None


@baseline.task(name="bench.summarize_direct")
def summarize_direct(session_id: str, llm_url: str) -> str:
    """A summary's reads and writes, straight: no payload model, no runtime, no metrics, no locks."""
    import httpx

    global _direct_db, _direct_http
    if _direct_db is None:  # one client of each per pool child, made after the fork
        _direct_db = MongoClient(os.environ["BENCH_MONGODB_URL"])[os.environ["BENCH_MONGODB_DB"]]
        _direct_http = httpx.Client(timeout=30)  # keep-alive, as the openai client does
    db = _direct_db
    session = db.sessions.find_one({"_id": session_id})
    watermark = session["summary_upto_seq"]
    messages = list(db.messages.find({"session_id": session_id, "seq": {"$gt": watermark}}).sort("seq", 1))
    fold = messages[:-1]  # keep the newest message, as SUMMARY_KEEP_RECENT_MESSAGES=1
    prompt = "\n".join(f"{m['role']}: {m['content']}" for m in fold)
    reply = _direct_http.post(
        f"{llm_url}/chat/completions",
        json={"model": "bench", "messages": [{"role": "user", "content": prompt}]},
        headers={"Authorization": "Bearer sk-bench"},
    ).json()
    text, upto = reply["choices"][0]["message"]["content"], fold[-1]["seq"]
    db.summaries.insert_one({"session_id": session_id, "from_seq": watermark, "upto_seq": upto, "summary": text})
    db.sessions.update_one(
        {"_id": session_id, "summary_upto_seq": watermark},
        {"$set": {"summary": text, "summary_upto_seq": upto}, "$inc": {"tokens_since_summary": -1}},
    )
    return "ok"


def seed(db: Any, prefix: str, count: int) -> list[str]:
    """``count`` short sessions, each folded in one step (``SUMMARY_KEEP_RECENT_MESSAGES=1``)."""
    return seed_sessions(db, prefix, count, CONVERSATION)


def rate_and_cpu(
    s: Stack, db: Any, worker: int, prefix: str, tasks: int, concurrency: int, summarize: Callable[[list[str]], Any]
) -> dict[str, float]:
    """``summarize`` a warm-up batch, then ``tasks`` fresh sessions: their rate and the CPU per
    summary of the ``worker`` tree and the Mongo server. Fails unless every summary was committed."""
    summarize(seed(db, f"{prefix}-warm", concurrency * 2))
    measured: list[str] = []

    def batch() -> float:
        measured.extend(seed(db, prefix, tasks))  # inside the CPU span, so the numbers compare with earlier runs
        started = time.perf_counter()
        summarize(measured)
        return time.perf_counter() - started

    wall, cpu = with_cpu(batch, tasks, worker, mongo_pid(s.mongo), role="worker", per="summary")
    committed = db.sessions.count_documents({"_id": {"$in": measured}, "summary_upto_seq": 2})
    if committed != tasks:
        raise RuntimeError(f"only {committed}/{tasks} {prefix} summaries committed")
    return {"tasks_per_second": tasks / wall, **cpu}


def run_ragtasks(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, float]:
    fake = FakeOpenAI(latency_seconds=latency, default_text="summary")
    with run_summarizer(s, fake, concurrency) as ours:
        return rate_and_cpu(s, ours.db, ours.worker.popen.pid, "measured", tasks, concurrency, ours.summarize)


@contextlib.contextmanager
def baseline_worker(s: Stack, name: str, concurrency: int, **env: str) -> Iterator[Child]:
    """The baseline app's prefork worker on the stack's broker, ``env`` added to its environment."""
    broker = s.vhost.broker_url
    baseline.conf.broker_url, baseline.conf.result_backend = broker, redis_url()
    env = {"BENCH_BROKER_URL": broker, "BENCH_REDIS_URL": redis_url(), **env}  # for the worker's import
    worker = spawn(name, [*CELERY_ARGS, f"-c{concurrency}"], env, ready_text=" ready.")
    try:
        yield worker
    finally:
        worker.stop()


def run_baseline(s: Stack, tasks: int, concurrency: int, latency: float) -> float:
    with baseline_worker(s, "baseline-celery", concurrency):

        def batch(count: int) -> float:
            started = time.perf_counter()
            ids = [sleep_task.apply_async(args=[latency]).id for _ in range(count)]
            wait_all(baseline, ids)
            return time.perf_counter() - started

        batch(concurrency * 2)
        return tasks / batch(tasks)


def run_direct(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, float]:
    """The bare app doing a summary's reads and writes directly, against the same fake LLM."""
    fake = FakeOpenAI(latency_seconds=latency, default_text="summary").start()
    db_env = {"BENCH_MONGODB_URL": s.mongo.url, "BENCH_MONGODB_DB": s.db_name}
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
    try:
        with baseline_worker(s, "baseline-direct", concurrency, **db_env) as worker:

            def summarize(sessions: list[str]) -> None:
                wait_all(baseline, [summarize_direct.apply_async(args=[sid, fake.base_url]).id for sid in sessions])

            return rate_and_cpu(s, client[s.db_name], worker.popen.pid, "direct", tasks, concurrency, summarize)
    finally:
        client.close()
        fake.stop()


def measure(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a handful of tasks."""
    ragtasks = run_ragtasks(s, tasks, concurrency, latency)
    base = run_baseline(s, tasks, concurrency, latency)
    direct = run_direct(s, tasks, concurrency, latency)
    ours = ragtasks["tasks_per_second"]
    return {
        "benchmark": "summarize_end_to_end",
        "tasks": tasks,
        "concurrency": concurrency,
        "llm_latency_seconds": latency,
        "ragtasks_tasks_per_second": round(ours, 2),
        "baseline_celery_tasks_per_second": round(base, 2),
        "ideal_tasks_per_second": round(concurrency / latency, 2),
        "throughput_ratio": round(ours / base, 3),
        "ragtasks": {k: round(v, 3) for k, v in ragtasks.items()},
        "direct_celery": {k: round(v, 3) for k, v in direct.items()},
        "throughput_ratio_vs_direct": round(ours / direct["tasks_per_second"], 3),
        "worker_cpu_ratio_vs_direct": _ratio(
            ragtasks["worker_cpu_ms_per_summary"], direct["worker_cpu_ms_per_summary"]
        ),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def main(argv: list[str] | None = None) -> None:
    main_for(measure, __doc__, argv, tasks=200, concurrency=4, latency=0.05)


if __name__ == "__main__":
    main(sys.argv[1:])
