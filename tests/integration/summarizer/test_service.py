"""The summarize step against the real Mongo server, in-process: crash points and reruns."""

from __future__ import annotations

from typing import Any

import pytest

from ragtasks_core import documents
from ragtasks_summarizer import service, store
from ragtasks_summarizer.logic import Message

from .conftest import seed_session


@pytest.fixture
def sdb(db: Any) -> Any:
    documents.ensure_indexes(db)
    return db


def writer(calls: list[int]) -> service.Writer:
    def write(previous: str | None, messages: list[Message]) -> tuple[str, str]:
        calls.append(messages[-1].seq)
        return f"summary up to {messages[-1].seq}", "test-model"

    return write


def failing_writer(previous: str | None, messages: list[Message]) -> tuple[str, str]:
    raise RuntimeError("LLM down")


def test_failed_writer_changes_nothing(sdb: Any) -> None:
    seed_session(sdb, "s", ["a.", "b.", "c."])
    before = sdb.sessions.find_one({"_id": "s"})
    with pytest.raises(RuntimeError):
        service.summarize(sdb, "s", writer=failing_writer, keep_recent=1)
    assert sdb.sessions.find_one({"_id": "s"}) == before
    assert sdb.summaries.count_documents({}) == 0


def test_crash_between_record_and_commit_reuses_the_recorded_text(sdb: Any) -> None:
    seed_session(sdb, "s", ["a.", "b.", "c."])
    # A previous delivery wrote the summary and died before moving the watermark.
    store.record_summary(
        sdb,
        {"session_id": "s", "from_seq": 0, "upto_seq": 2, "summary": "first try", "model": "m", "tokens_covered": 1},
    )
    calls: list[int] = []
    outcome = service.summarize(sdb, "s", writer=writer(calls), keep_recent=1)
    assert outcome.status == "committed" and calls == []  # no second LLM call
    session = sdb.sessions.find_one({"_id": "s"})
    assert (session["summary"], session["summary_upto_seq"]) == ("first try", 2)
    assert sdb.summaries.find_one({"session_id": "s"})["committed"] is True


def test_rerun_after_commit_is_harmless(sdb: Any) -> None:
    seed_session(sdb, "s", ["a.", "b.", "c."])
    calls: list[int] = []
    assert service.summarize(sdb, "s", writer=writer(calls), keep_recent=1).status == "committed"
    before = sdb.sessions.find_one({"_id": "s"})
    assert service.summarize(sdb, "s", writer=writer(calls), keep_recent=1).status == "nothing_to_do"
    assert sdb.sessions.find_one({"_id": "s"}) == before
    assert calls == [2]
    assert before["tokens_since_summary"] == sdb.messages.find_one({"session_id": "s", "seq": 3})["tokens"]


def test_stale_commit_never_rewinds(sdb: Any) -> None:
    seed_session(sdb, "s", ["a.", "b.", "c.", "d."])
    assert service.summarize(sdb, "s", writer=writer([]), keep_recent=1).upto_seq == 3
    # A task that read watermark 0 earlier tries to commit its (0, 2) range now.
    ok = store.commit(sdb, session_id="s", from_seq=0, upto_seq=2, summary="stale", model="m", tokens_covered=5)
    assert ok is None
    assert sdb.sessions.find_one({"_id": "s"})["summary_upto_seq"] == 3


def test_hole_in_sequence_is_not_skipped(sdb: Any) -> None:
    seed_session(sdb, "s", ["a.", "b.", "c.", "d.", "e."])
    # seq 3 was reserved by an append whose insert has not landed yet.
    sdb.messages.delete_one({"session_id": "s", "seq": 3})
    outcome = service.summarize(sdb, "s", writer=writer([]), keep_recent=1)
    assert outcome.upto_seq == 2


def test_unknown_session(sdb: Any) -> None:
    assert service.summarize(sdb, "nope", writer=failing_writer, keep_recent=1).status == "no_session"
