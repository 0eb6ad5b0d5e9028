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

import sys

from tests.support.fake_openai import FakeOpenAI
from tests.support.sessions import seed_sessions

from benchmarks.common import Stack, Summarizer, main_for, run_summarizer

SUMMARY = "摘要：客户反馈耳机有杂音，要求退货；客服已确认订单并说明退款流程。"
SENTENCES = ["客户说耳机左边有杂音，想办理退货。", "客服确认了订单号和购买日期。", "退款三到五个工作日到账。"]


def chinese(chars: int, seed: int) -> str:
    text, i = "", seed
    while len(text) < chars:
        text += f"第{i}轮：{SENTENCES[i % len(SENTENCES)]}"
        i += 1
    return text[:chars]


def summarized(ours: Summarizer, prefix: str, count: int, contents: list[str]) -> float:
    """Seed ``count`` sessions of ``contents`` and summarize them; seconds until every session is
    summarized to its end (all but the kept newest message)."""
    sessions = seed_sessions(ours.db, prefix, count, contents)
    elapsed = ours.summarize(sessions)
    done = ours.db.sessions.count_documents({"_id": {"$in": sessions}, "summary_upto_seq": len(contents) - 1})
    if done != len(sessions):
        raise RuntimeError(f"only {done}/{len(sessions)} sessions of {prefix} summarized to the end")
    return elapsed


def measure(s: Stack, sessions: int, steps: int, concurrency: int, latency: float, window: int) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a tiny size."""
    fake = FakeOpenAI(latency_seconds=latency, default_text=SUMMARY, window_tokens=window)
    # Below one long message: a multi-step task keeps folding while the session stays past it,
    # and ends with only the kept (last) message unfolded, so it claims no next task.
    with run_summarizer(s, fake, concurrency, LLM_CONTEXT_TOKENS=str(window), SUMMARY_TRIGGER_TOKENS="1000") as ours:
        short = [chinese(60, i) for i in range(3)]
        long = [chinese(20_000, i) for i in range(steps + 1)]
        summarized(ours, "warm", concurrency, short)
        single = summarized(ours, "single", sessions, short)
        multi = summarized(ours, "multi", sessions, long)
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


def main(argv: list[str] | None = None) -> None:
    main_for(measure, __doc__, argv, sessions=20, steps=5, concurrency=2, latency=0.05, window=16_000)


if __name__ == "__main__":
    main(sys.argv[1:])
