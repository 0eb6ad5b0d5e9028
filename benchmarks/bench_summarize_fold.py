"""Multi-step folds beside single folds: summaries per second, measured in the same run.

One ``ragtasks worker summarizer`` (prefork, concurrency C) and a fake LLM that answers after a
fixed latency and enforces a window of ``--window`` tokens (RAGTASKS_LLM_CONTEXT_TOKENS is set
to the same). Two batches on the same worker, one after the other:

- single fold: N short Chinese sessions, each folded in one step (one summary each);
- multi-step: N long Chinese sessions of ``--steps``+1 messages of 20,000 characters, each
  larger than the window alone, so each task folds ``--steps`` steps (one shortened message per
  prompt), committing a summary after each.

Summaries per second = summaries committed / (first publish to the last session summarized to
its end). The multi-step number also pays per step for reading the session afresh, shortening a
20k-character message by tokens and the larger prompt; the single-fold number is the ceiling.
Prints one JSON line.

    .venv/bin/python -m benchmarks.bench_summarize_fold [--sessions 20] [--steps 5] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI

from benchmarks.bench_summarize import wait_all
from benchmarks.common import LOG_DIR, Stack, stack
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_core.tokens import count_message_tokens

SUMMARY = "摘要：客户反馈耳机有杂音，要求退货；客服已确认订单并说明退款流程。"
SENTENCES = ["客户说耳机左边有杂音，想办理退货。", "客服确认了订单号和购买日期。", "退款三到五个工作日到账。"]


def chinese(chars: int, seed: int) -> str:
    text, i = "", seed
    while len(text) < chars:
        text += f"第{i}轮：{SENTENCES[i % len(SENTENCES)]}"
        i += 1
    return text[:chars]


def seed(db: Any, prefix: str, count: int, contents: list[str]) -> list[str]:
    """``count`` sessions of ``contents``, written as the gateway writes them."""
    ids = []
    for n in range(count):
        sid = f"{prefix}-{n}"
        docs: list[dict[str, Any]] = []
        for i, text in enumerate(contents, start=1):
            role = "user" if i % 2 else "assistant"
            docs.append(
                {"session_id": sid, "seq": i, "role": role, "content": text, "tokens": count_message_tokens(role, text)}
            )
        db.messages.insert_many(docs)
        db.sessions.insert_one(
            {
                "_id": sid,
                "last_seq": len(docs),
                "tokens_since_summary": sum(d["tokens"] for d in docs),
                "summary": None,
                "summary_upto_seq": 0,
                "summary_pending": None,
            }
        )
        ids.append(sid)
    return ids


def batch(app: Any, db: Any, prefix: str, sessions: list[str], last_seq: int) -> float:
    """Publish one task per session; seconds until every session is summarized to its end."""
    ids = [f"{prefix}-{uuid.uuid4().hex}" for _ in sessions]
    started = time.perf_counter()
    for sid, task_id in zip(sessions, ids, strict=True):
        app.send_task(TaskName.SUMMARIZE_SESSION.value, kwargs={"v": 1, "session_id": sid}, task_id=task_id)
    wait_all(app, ids)
    elapsed = time.perf_counter() - started
    done = db.sessions.count_documents({"_id": {"$in": sessions}, "summary_upto_seq": last_seq - 1})
    if done != len(sessions):
        raise RuntimeError(f"only {done}/{len(sessions)} sessions of {prefix} summarized to the end")
    return elapsed


def measure(s: Stack, sessions: int, steps: int, concurrency: int, latency: float, window: int) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a tiny size."""
    fake = FakeOpenAI(latency_seconds=latency, default_text=SUMMARY, window_tokens=window).start()
    env = s.env(
        LLM_BASE_URL=fake.base_url,
        LLM_API_KEY="sk-bench",
        LLM_RATE_LIMIT="100000/s",
        LLM_CONTEXT_TOKENS=str(window),
        SUMMARY_KEEP_RECENT_MESSAGES="1",
        # Below one long message: a multi-step task keeps folding while the session stays past it,
        # and ends with only the kept (last) message unfolded, so it claims no next task.
        SUMMARY_TRIGGER_TOKENS="1000",
    )
    worker = procs.start_worker("summarizer", env, LOG_DIR, concurrency=concurrency)
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
    app = create_celery(Settings(**{k[len("RAGTASKS_") :].lower(): v for k, v in env.items()}))  # type: ignore[arg-type]
    try:
        db = client[s.db_name]
        short = [chinese(60, i) for i in range(3)]
        long = [chinese(20_000, i) for i in range(steps + 1)]
        batch(app, db, "warm", seed(db, "warm", concurrency, short), len(short))
        single = batch(app, db, "single", seed(db, "single", sessions, short), len(short))
        multi = batch(app, db, "multi", seed(db, "multi", sessions, long), len(long))
        single_rate, multi_rate = sessions / single, sessions * steps / multi
        if fake.refused_sizes:
            raise RuntimeError(f"{len(fake.refused_sizes)} prompts exceeded the window")
        return {
            "benchmark": "summarize_fold",
            "sessions": sessions,
            "steps_per_multi_session": steps,
            "concurrency": concurrency,
            "llm_latency_seconds": latency,
            "window_tokens": window,
            "largest_prompt_tokens": max(fake.prompt_sizes),
            "single_fold_summaries_per_second": round(single_rate, 2),
            "multi_step_summaries_per_second": round(multi_rate, 2),
            "multi_step_sessions_per_second": round(sessions / multi, 3),
            "multi_vs_single_ratio": round(multi_rate / single_rate, 3),
        }
    finally:
        app.close()
        client.close()
        worker.stop()
        fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--window", type=int, default=16_000)
    args = parser.parse_args(argv or [])
    with stack() as s:
        report = measure(s, args.sessions, args.steps, args.concurrency, args.latency, args.window)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
