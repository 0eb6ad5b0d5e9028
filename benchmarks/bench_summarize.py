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

import argparse
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.result import AsyncResult
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI
from tests.support.services import redis_url

from benchmarks.common import LOG_DIR, Stack, cpu_seconds, mongo_pid, spawn, stack
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


def run_ragtasks(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, float]:
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
        wall, cpu = _with_cpu(functools.partial(batch, "measured", tasks), worker.popen.pid, mongo_pid(s.mongo), tasks)
        committed = db.sessions.count_documents({"_id": {"$regex": "^measured-"}, "summary_upto_seq": 2})
        if committed != tasks:
            raise RuntimeError(f"only {committed}/{tasks} summaries committed")
        return {"tasks_per_second": tasks / wall, **cpu}
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


def _with_cpu(batch: Callable[[], float], worker: int, mongo: int | None, tasks: int) -> tuple[float, dict[str, float]]:
    """Run the measured ``batch``; its wall time and the CPU per task of the worker and Mongo server."""
    worker_before, mongo_before = cpu_seconds(worker), cpu_seconds(mongo) if mongo else 0.0
    wall = batch()
    worker_ms = (cpu_seconds(worker) - worker_before) * 1000 / tasks
    cpu = {"worker_cpu_ms_per_summary": round(worker_ms, 3)}
    if mongo:
        mongo_ms = (cpu_seconds(mongo) - mongo_before) * 1000 / tasks
        cpu["mongo_cpu_ms_per_summary"] = round(mongo_ms, 3)
        cpu["mongo_cpu_share"] = round(mongo_ms / (mongo_ms + worker_ms), 3) if mongo_ms + worker_ms else 0.0
    return wall, cpu


def run_direct(s: Stack, tasks: int, concurrency: int, latency: float) -> dict[str, float]:
    """The bare app doing a summary's reads and writes directly, against the same fake LLM."""
    fake = FakeOpenAI(latency_seconds=latency, default_text="summary").start()
    broker = s.vhost.broker_url
    env = {"BENCH_BROKER_URL": broker, "BENCH_REDIS_URL": redis_url()}
    env |= {"BENCH_MONGODB_URL": s.mongo.url, "BENCH_MONGODB_DB": s.db_name}
    baseline.conf.broker_url, baseline.conf.result_backend = broker, redis_url()
    worker = spawn("baseline-direct", [*CELERY_ARGS, f"-c{concurrency}"], env, ready_text=" ready.")
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
    try:
        db = client[s.db_name]

        def batch(prefix: str, count: int) -> float:
            sessions = seed(db, prefix, count)
            started = time.perf_counter()
            ids = [summarize_direct.apply_async(args=[sid, fake.base_url]).id for sid in sessions]
            wait_all(baseline, ids)
            return time.perf_counter() - started

        batch("direct-warm", concurrency * 2)
        wall, cpu = _with_cpu(functools.partial(batch, "direct", tasks), worker.popen.pid, mongo_pid(s.mongo), tasks)
        committed = db.sessions.count_documents({"_id": {"$regex": "^direct-[0-9]"}, "summary_upto_seq": 2})
        if committed != tasks:
            raise RuntimeError(f"only {committed}/{tasks} direct summaries committed")
        return {"tasks_per_second": tasks / wall, **cpu}
    finally:
        client.close()
        worker.stop()
        fake.stop()


def run(tasks: int, concurrency: int, latency: float) -> dict[str, object]:
    with stack() as s:
        return measure(s, tasks, concurrency, latency)


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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    print(json.dumps(run(args.tasks, args.concurrency, args.latency)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
