"""The chaos soak's own verdict (``benchmarks/chaos_check.py``) on sessions built by hand.

An append refused while Mongo restarted can leave its reserved numbers unwritten at the end of
the session: no summary can cover them, and the client was told the append failed. The check
must accept that -- but only as many numbers as refused appends could have reserved -- and must
still call a session whose stored messages are not all summarized a loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from benchmarks.chaos import Load
from benchmarks.chaos_check import settle_and_check

from ragtasks_core.documents import messages
from tests.support.fake_wecom import FakeWeCom

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    double = FakeWeCom().start()
    yield double
    double.stop()


def _session(db: Any, session: str, *, stored: int, last_seq: int, summarized_to: int) -> None:
    """``stored`` messages (a user turn carrying its marker, then the reply), ``last_seq``
    reserved, and one committed summary of 1..``summarized_to``."""
    rows = []
    for seq in range(1, stored + 1):
        text = f"[chaos-{session}-{seq}] 我想退货" if seq % 2 else "好的"
        rows += messages.new_messages(session, seq, [("user" if seq % 2 else "assistant", text, 9)], NOW)
    db.messages.insert_many(rows)
    db.sessions.insert_one(
        {"_id": session, "last_seq": last_seq, "summary_upto_seq": summarized_to, "summary_pending": None}
    )
    if summarized_to:
        db.summaries.insert_one({"session_id": session, "from_seq": 0, "upto_seq": summarized_to, "committed": True})


def _load(sessions: list[tuple[str, int]], refused: int) -> Load:
    load = Load(append_errors=refused)
    for session, stored in sessions:
        load.acked.update({f"chaos-{session}-{seq}": session for seq in range(1, stored + 1, 2)})
    return load


def test_numbers_a_refused_append_reserved_at_the_end_are_not_a_loss(db: Any, wecom: FakeWeCom) -> None:
    _session(db, "s0", stored=6, last_seq=6, summarized_to=6)
    _session(db, "s3", stored=6, last_seq=8, summarized_to=6)  # 7-8: the refused append's
    report = settle_and_check(db, _load([("s0", 6), ("s3", 6)], refused=1), wecom, timeout=0)
    assert report["ok"] is True, report
    assert report["sessions_not_summarized_to_the_end"] == [], report
    assert report["appends"]["reserved_unwritten_at_the_end"] == 2, report


def test_more_unwritten_numbers_than_refused_appends_explain_are_a_loss(db: Any, wecom: FakeWeCom) -> None:
    _session(db, "s3", stored=6, last_seq=8, summarized_to=6)
    report = settle_and_check(db, _load([("s3", 6)], refused=0), wecom, timeout=0)
    assert report["losses"] == 1 and report["ok"] is False, report


def test_a_stored_message_left_unsummarized_is_a_loss(db: Any, wecom: FakeWeCom) -> None:
    _session(db, "s1", stored=6, last_seq=6, summarized_to=4)
    report = settle_and_check(db, _load([("s1", 6)], refused=0), wecom, timeout=0)
    assert report["sessions_not_summarized_to_the_end"] == ["s1"] and report["ok"] is False, report
