"""The summary policy: trigger by tokens or messages, keep recent by count or tokens, tool pairs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ragtasks_summarizer.folding import foldable_run
from ragtasks_summarizer.logic import SYSTEM_PROMPT, Message
from ragtasks_summarizer.policy import Policy, load_instruction, should_trigger, split_recent, units


def m(seq: int, role: str = "user", tokens: int = 10) -> Message:
    return Message(seq, role, f"消息 {seq}", tokens)


def seqs(messages: list[Message]) -> list[int]:
    return [x.seq for x in messages]


def test_trigger_by_tokens_only_by_default() -> None:
    policy = Policy(trigger_tokens=2000)
    assert should_trigger(policy, tokens_since=2000, messages_since=1)
    assert not should_trigger(policy, tokens_since=1999, messages_since=10_000)


def test_trigger_by_messages_when_set() -> None:
    policy = Policy(trigger_tokens=2000, trigger_messages=20)
    assert should_trigger(policy, tokens_since=10, messages_since=20)
    assert not should_trigger(policy, tokens_since=10, messages_since=19)
    assert should_trigger(policy, tokens_since=5000, messages_since=1)  # whichever comes first


def test_units_keep_tool_results_with_their_call() -> None:
    msgs = [m(1), m(2, "assistant"), m(3, "tool"), m(4, "tool"), m(5, "assistant"), m(6)]
    assert [seqs(u) for u in units(msgs)] == [[1], [2, 3, 4], [5], [6]]


def test_keep_recent_by_count() -> None:
    older, kept = split_recent(Policy(2000, keep_recent_messages=2), [m(i) for i in range(1, 6)])
    assert (seqs(older), seqs(kept)) == ([1, 2, 3], [4, 5])


def test_keep_recent_by_count_never_splits_a_tool_pair() -> None:
    msgs = [m(1), m(2, "assistant"), m(3, "tool"), m(4, "assistant")]
    # Keeping 2 would cut between 2 (the call) and 3 (its result): the call is kept too.
    older, kept = split_recent(Policy(2000, keep_recent_messages=2), msgs)
    assert (seqs(older), seqs(kept)) == ([1], [2, 3, 4])


def test_keep_recent_by_tokens() -> None:
    msgs = [m(1, tokens=100), m(2, tokens=50), m(3, tokens=30), m(4, tokens=20)]
    older, kept = split_recent(Policy(2000, keep_recent_messages=99, keep_recent_tokens=60), msgs)
    assert (seqs(older), seqs(kept)) == ([1, 2], [3, 4])


def test_keep_recent_by_tokens_folds_a_tool_pair_that_does_not_fit_whole() -> None:
    msgs = [m(1), m(2, "assistant", tokens=10), m(3, "tool", tokens=500), m(4, tokens=10)]
    older, kept = split_recent(Policy(2000, keep_recent_tokens=100), msgs)
    assert (seqs(older), seqs(kept)) == ([1, 2, 3], [4])


def test_keep_zero_tokens_folds_everything() -> None:
    older, kept = split_recent(Policy(2000, keep_recent_tokens=0), [m(1), m(2)])
    assert (seqs(older), kept) == ([1, 2], [])


def test_foldable_run_is_gap_free_after_the_watermark() -> None:
    now = datetime.now(UTC)
    msgs = [Message(s, "user", "x", 1, now) for s in (5, 6, 8, 9, 10)]
    assert seqs(foldable_run(Policy(2000, keep_recent_messages=1), msgs, 4, now)) == [5, 6]


def test_instruction_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("请用中文总结对话，保留订单号和金额。\n", encoding="utf-8")
    assert load_instruction(str(path)) == "请用中文总结对话，保留订单号和金额。"
    assert load_instruction(None) == SYSTEM_PROMPT


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "cannot be read"), (b"", "is empty"), (b"\xff\xfe\x00bad", "not UTF-8"), (b"x" * 9000, "at most")],
)
def test_a_bad_instruction_file_says_why(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "prompt.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=reason):
        load_instruction(str(path))
