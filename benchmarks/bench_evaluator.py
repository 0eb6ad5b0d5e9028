"""Evaluator throughput: questions evaluated per second against a fixed-latency LLM, and against
a fixed-latency http retriever.

Starts a Mongo server, a RabbitMQ vhost, a fake OpenAI server answering every chat call after
``--latency`` seconds, and a real ``ragtasks worker evaluator`` at the configured concurrency
(``RAGTASKS_EVALUATOR_CONCURRENCY``, default 2). One LLM call writes one question
(``EVAL_QUESTIONS_PER_LLM_CALL=1``), so the ideal is concurrency / latency questions per second;
the latency is measured in the same run (direct calls to the fake). Prints one JSON line.

The second line is the same against an ``http`` retriever (the integration tests' fake RAG
service, BM25 behind a fixed ``--retriever-latency``) with offline questions, so retrieval is the
bottleneck: ideal = concurrency / measured retrieval latency.

    .venv/bin/python -m benchmarks.bench_evaluator [--questions 60] [--latency 0.25] [--retriever-latency 0.1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import openai
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI

from benchmarks.common import LOG_DIR, Stack, stack
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.documents.chunks import content_hash
from ragtasks_core.settings import Settings
from ragtasks_evaluator.corpus import lee_chunks

ANSWER = json.dumps({"questions": [{"id": "1", "question": "What happened in this story?"}]})


def measured_latency(fake: FakeOpenAI, calls: int = 5) -> float:
    client = openai.OpenAI(base_url=fake.base_url, api_key="unused", max_retries=0)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])
        times.append(time.perf_counter() - started)
    client.close()
    return statistics.median(times)


def run(questions: int, latency: float) -> dict[str, object]:
    with stack() as s:
        return measure(s, questions, latency)


def measure(s: Stack, questions: int, latency: float) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a handful of questions."""
    concurrency = Settings().evaluator_concurrency
    fake = FakeOpenAI(latency_seconds=latency, default_text=ANSWER).start()
    env = s.env(
        LLM_BASE_URL=fake.base_url,
        LLM_API_KEY="sk-bench",
        LLM_RATE_LIMIT="1000/s",
        EVAL_QUESTIONS_PER_LLM_CALL="1",
        EVAL_BATCH_SIZE="5",
        RETRIEVER="bm25",
    )
    worker = None
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url, tz_aware=True)
    try:
        db = client[s.db_name]
        _load_kb(db, "bench", lee_chunks())
        ideal = concurrency / measured_latency(fake)
        worker = procs.start_worker("evaluator", env, LOG_DIR, concurrency=concurrency)
        # Warm-up (imports, BM25 index build in each child) outside the measurement.
        evaluation(db, env, "warmup", concurrency * 2)
        db.eval_questions.delete_many({})  # questions are stored and reused: measure writing them
        started = time.perf_counter()
        doc = evaluation(db, env, "measured", questions)
        wall = time.perf_counter() - started
        busy = (doc["finished_at"] - doc["started_at"]).total_seconds()
        rate = questions / wall
        return {
            "benchmark": "evaluator_questions_per_second",
            "questions": questions,
            "concurrency": concurrency,
            "llm_latency_seconds": latency,
            "questions_per_second": round(rate, 3),
            "questions_per_second_while_running": round(questions / busy, 3),
            "ideal_questions_per_second": round(ideal, 3),
            "ratio_to_ideal": round(rate / ideal, 3),
            "wall_seconds": round(wall, 3),
        }
    finally:
        if worker is not None:
            worker.stop()
        client.close()
        fake.stop()


def measure_retriever(s: Stack, questions: int, latency: float) -> dict[str, object]:
    """Questions/s against an http retriever answering after ``latency`` seconds (offline questions)."""
    from tests.integration.evaluator.fake_retriever import FakeRetriever

    concurrency = Settings().evaluator_concurrency
    chunks = lee_chunks()
    fake = FakeRetriever(chunks, token="bench").start()
    fake.slow_seconds = latency
    env = s.env(
        RETRIEVER="http",
        RETRIEVER_URL=fake.url,
        RETRIEVER_AUTH_HEADER="Bearer bench",
        RETRIEVER_IDS_FIELD="results.*.chunk_id",
        EVAL_BATCH_SIZE="5",
    )
    worker = None
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url, tz_aware=True)
    try:
        db = client[s.db_name]
        _load_kb(db, "bench-http", chunks)
        ideal = concurrency / _retrieval_latency(fake.url)
        worker = procs.start_worker("evaluator", env, LOG_DIR, concurrency=concurrency)
        evaluation(db, env, "warmup-http", concurrency * 2, kb_id="bench-http")
        started = time.perf_counter()
        doc = evaluation(db, env, "measured-http", questions, kb_id="bench-http", seed=2)
        rate = questions / (time.perf_counter() - started)
        timings = doc.get("timings") or {}
        return {
            "benchmark": "evaluator_questions_per_second_http_retriever",
            "questions": questions,
            "concurrency": concurrency,
            "retriever_latency_seconds": latency,
            "questions_per_second": round(rate, 3),
            "ideal_questions_per_second": round(ideal, 3),
            "ratio_to_ideal": round(rate / ideal, 3),
            # Where a question's time goes, per the report: writing it (offline) and retrieving.
            "mean_question_ms": timings.get("mean_question_ms"),
            "mean_retrieval_ms": timings.get("mean_retrieval_ms"),
        }
    finally:
        if worker is not None:
            worker.stop()
        client.close()
        fake.stop()


def _load_kb(db: Any, kb_id: str, chunks: list[dict[str, str]]) -> None:
    db.kbs.insert_one({"_id": kb_id, "version": 1, "created_at": datetime.now(UTC)})
    db.kb_chunks.insert_many(
        [{**c, "kb_id": kb_id, "hash": content_hash(c["text"]), "merged_into": None, "merged_ids": []} for c in chunks]
    )


def _retrieval_latency(url: str, calls: int = 5) -> float:
    """The fake retriever's latency as a client sees it (the median of a few direct calls)."""
    import httpx

    times = []
    with httpx.Client(headers={"Authorization": "Bearer bench"}) as http:
        for _ in range(calls):
            started = time.perf_counter()
            http.post(
                url, json={"query": "bushfires near Sydney", "top_k": 10, "kb_id": "bench-http"}
            ).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def evaluation(
    db: Any, env: dict[str, str], label: str, size: int, *, kb_id: str = "bench", seed: int = 1
) -> dict[str, Any]:
    evaluation_id = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    db.evaluations.insert_one(
        {
            "_id": evaluation_id,
            "kb_id": kb_id,
            "status": "queued",
            "sample_size": size,
            "k": [1, 5, 10],
            "seed": seed,
            "created_at": datetime.now(UTC),
        }
    )
    settings = Settings(**{k[len("RAGTASKS_") :].lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    app = create_celery(settings)
    app.send_task(TaskName.RUN_EVALUATION.value, kwargs={"evaluation_id": evaluation_id})
    app.close()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        doc = db.evaluations.find_one({"_id": evaluation_id})
        if doc and doc["status"] in ("done", "failed"):
            if doc["status"] != "done":
                raise RuntimeError(f"evaluation failed: {doc.get('error')}")
            return dict(doc)
        time.sleep(0.05)
    raise TimeoutError(f"evaluation {evaluation_id} did not finish")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--retriever-latency", type=float, default=0.1)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    print(json.dumps(run(args.questions, args.latency)), flush=True)
    with stack() as s:
        print(json.dumps(measure_retriever(s, args.questions, args.retriever_latency)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
