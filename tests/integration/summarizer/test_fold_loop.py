"""The fold loop against the real Mongo server, in-process: steps, halving, deletion mid-step.

Worker-level tests (a real worker, the fake OpenAI server with a window) are in
``test_long_sessions.py``; these drive :func:`fold_loop.fold_session` with scripted writers.
"""

from __future__ import annotations

from typing import Any

import pytest

from ragtasks_core import documents
from ragtasks_core.llm import ContextLengthExceeded
from ragtasks_summarizer import fold_loop, retention
from ragtasks_summarizer.fold_loop import FoldConfig, FoldRefused
from ragtasks_summarizer.folding import Step
from ragtasks_summarizer.policy import Policy

from .conftest import seed_session
from .test_race import assert_consistent

ZH = "客户反馈耳机左侧有杂音，已确认订单号 20240611 和购买日期，建议按七天无理由退货流程处理。"


@pytest.fixture
def sdb(db: Any) -> Any:
    documents.ensure_indexes(db)
    return db


def config(limit: int, *, keep: int = 1, deadline: float | None = None, trigger: int = 1) -> FoldConfig:
    return FoldConfig(Policy(trigger_tokens=trigger, keep_recent_messages=keep), limit, 300, deadline)


def recording_writer(prompts: list[int], *, window: int | None = None) -> fold_loop.StepWriter:
    """A model with a real window of ``window`` prompt tokens (None: any)."""

    def write(step: Step) -> tuple[str, str]:
        if window is not None and step.prompt_tokens > window:
            raise ContextLengthExceeded(f"context_length_exceeded: LLM HTTP 400: {step.prompt_tokens} > {window}")
        prompts.append(step.prompt_tokens)
        return f"摘要至第 {step.upto_seq} 条：{ZH[:30]}", "test-model"

    return write


def test_a_long_session_is_folded_in_steps_that_each_fit(sdb: Any) -> None:
    seed_session(sdb, "long", [ZH * 40 for _ in range(30)])  # ~30 x 1,700 tokens
    prompts: list[int] = []
    outcome = fold_loop.fold_session(sdb, "long", write=recording_writer(prompts), config=config(6000))
    assert outcome.status == "committed" and outcome.upto_seq == 29
    assert outcome.steps == len(prompts) > 5
    assert max(prompts) <= 6000
    session = assert_consistent(sdb, "long")
    assert session["summary_upto_seq"] == 29
    # Run again: nothing left to fold, nothing written.
    again = fold_loop.fold_session(sdb, "long", write=recording_writer(prompts), config=config(6000))
    assert again.status == "nothing_to_do" and again.steps == 0


def test_a_smaller_real_window_halves_the_fold_until_it_fits(sdb: Any) -> None:
    seed_session(sdb, "quarter", [ZH * 40 for _ in range(12)])
    prompts: list[int] = []
    outcome = fold_loop.fold_session(sdb, "quarter", write=recording_writer(prompts, window=2000), config=config(8000))
    assert outcome.status == "committed" and outcome.upto_seq == 11
    assert outcome.halvings == 2  # 8000 -> 4000 -> 2000, then the rest of the task stays there
    assert max(prompts) <= 2000
    assert_consistent(sdb, "quarter")


def test_a_window_too_small_for_one_message_fails_with_the_reason(sdb: Any) -> None:
    seed_session(sdb, "tiny", [ZH * 40, ZH * 40, "好的"])
    with pytest.raises(FoldRefused, match="context_length_exceeded"):
        fold_loop.fold_session(sdb, "tiny", write=recording_writer([], window=100), config=config(8000))
    assert sdb.sessions.find_one({"_id": "tiny"})["summary_upto_seq"] == 0
    assert sdb.summaries.count_documents({}) == 0


def test_the_deadline_stops_between_steps_and_says_more_is_left(sdb: Any) -> None:
    seed_session(sdb, "slow", [ZH * 40 for _ in range(10)])
    outcome = fold_loop.fold_session(
        sdb, "slow", write=recording_writer([]), config=config(4000, deadline=0.0), clock=lambda: 1.0
    )
    assert outcome.steps == 1 and outcome.more
    assert_consistent(sdb, "slow")


def test_a_session_deleted_during_a_step_gets_nothing_written(sdb: Any) -> None:
    seed_session(sdb, "gone", [ZH * 4 for _ in range(6)])

    def write_then_delete(step: Step) -> tuple[str, str]:
        retention.delete_session(sdb, "gone")  # DELETE /v1/sessions/gone while the LLM answers
        return "摘要", "test-model"

    outcome = fold_loop.fold_session(sdb, "gone", write=write_then_delete, config=config(8000))
    assert outcome.status == "no_session"
    for name in ("sessions", "messages", "summaries"):
        assert sdb[name].count_documents({}) == 0, name


def test_tool_results_are_folded_with_their_call(sdb: Any) -> None:
    contents = [ZH * 10, "调用订单工具", ZH * 30, ZH * 30, "查询完成", ZH * 10, "再次调用", ZH * 30, "好的"]
    seed_session(sdb, "tools", contents)
    roles = ["user", "assistant", "tool", "tool", "assistant", "user", "assistant", "tool", "user"]
    for seq, role in enumerate(roles, start=1):
        sdb.messages.update_one({"session_id": "tools", "seq": seq}, {"$set": {"role": role}})
    fold_loop.fold_session(sdb, "tools", write=recording_writer([]), config=config(1200, keep=2))
    ends = [d["upto_seq"] for d in sdb.summaries.find({"session_id": "tools", "committed": True})]
    assert len(ends) > 1
    for end in ends:
        after = sdb.messages.find_one({"session_id": "tools", "seq": end + 1})
        assert after is None or after["role"] != "tool", (end, ends)
    # keep=2 would keep 8 (tool) and 9: the call at 7 is kept with its result.
    assert sdb.sessions.find_one({"_id": "tools"})["summary_upto_seq"] == 6


def test_steps_continue_only_while_the_session_is_past_its_threshold(sdb: Any) -> None:
    seed_session(sdb, "threshold", [ZH * 40 for _ in range(10)])  # ~1,700 tokens each
    prompts: list[int] = []
    # Past 6,000 tokens: fold until the rest is below it (the first step always runs).
    outcome = fold_loop.fold_session(
        sdb, "threshold", write=recording_writer(prompts), config=config(4000, trigger=6000)
    )
    session = assert_consistent(sdb, "threshold")
    assert outcome.steps == len(prompts) >= 2
    assert session["tokens_since_summary"] < 6000
    assert session["summary_upto_seq"] < 9  # foldable messages remain below the threshold
