"""The outbox sweep's paths against the real Mongo server, with a recording ``send``.

Each path publishes exactly once: a second sweep at the same moment publishes nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ragtasks_core import documents
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.summarizer import SummarizeSession
from ragtasks_core.settings import Settings
from ragtasks_summarizer.sweep import sweep

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
Sent = list[tuple[str, dict[str, Any], str]]


def _recorder() -> tuple[Sent, Callable[[str, dict[str, Any], str, dict[str, Any]], None]]:
    sent: Sent = []

    def send(task: str, kwargs: dict[str, Any], task_id: str, options: dict[str, Any]) -> None:
        sent.append((task, kwargs, task_id))

    return sent, send


def _session(session_id: str, *, age: float, tokens: int, last_seq: int, pending: dict[str, Any] | None = None,
             error_at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {
        "_id": session_id,
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW - timedelta(seconds=age),
        "last_seq": last_seq,
        "tokens_since_summary": tokens,
        "summary": None,
        "summary_upto_seq": 0,
        "summary_pending": pending,
    }
    if error_at is not None:
        doc["summary_error"] = {"at": error_at, "reason": "LLM said no"}
    return doc


def _store(db: Any, session_id: str, seqs: list[int], *, tokens: int = 25, age: float = 600) -> None:
    """Messages ``seqs`` of the session, each ``tokens`` tokens, written ``age`` seconds before NOW."""
    at = NOW - timedelta(seconds=age)
    rows = [documents.messages.new_messages(session_id, seq, [("user", f"第{seq}条 msg", tokens)], at) for seq in seqs]
    db.messages.insert_many([doc for row in rows for doc in row])


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        summary_trigger_tokens=100, summary_keep_recent_messages=2, outbox_grace_seconds=5,
        outbox_stale_pending_seconds=900,
    )  # fmt: skip


def test_missed_session_is_claimed_and_published_exactly_once(db: Any, settings: Settings) -> None:
    """A crash between storing the messages and claiming the slot: past the threshold, nothing pending."""
    documents.ensure_indexes(db)
    db.sessions.insert_many(
        [
            _session("missed", age=60, tokens=150, last_seq=8),
            _session("too-fresh", age=1, tokens=150, last_seq=8),  # the gateway may still be claiming
            _session("below", age=60, tokens=99, last_seq=8),
            _session("nothing-to-fold", age=60, tokens=150, last_seq=2),  # all within keep-recent
            _session("failed-recently", age=60, tokens=150, last_seq=8, error_at=NOW - timedelta(seconds=30)),
        ]
    )
    for session_id in ("missed", "too-fresh", "below", "failed-recently"):
        _store(db, session_id, list(range(1, 9)))
    _store(db, "nothing-to-fold", [1, 2])
    sent, send = _recorder()
    counts = sweep(db, settings, send, now=NOW)
    assert counts["claimed"] == 1 and counts["unpublished"] == 0 and counts["stale"] == 0, counts
    [(task, kwargs, task_id)] = sent
    assert task == TaskName.SUMMARIZE_SESSION.value
    assert kwargs == SummarizeSession(session_id="missed", reason="sweep").model_dump(mode="json")
    pending = db.sessions.find_one({"_id": "missed"})["summary_pending"]
    assert pending["task_id"] == task_id and pending["published"] is True and pending["reason"] == "sweep"
    for other in ("too-fresh", "below", "nothing-to-fold", "failed-recently"):
        assert db.sessions.find_one({"_id": other})["summary_pending"] is None, other

    # The slot is taken now: the next sweep neither claims again nor republishes (not stale yet).
    again = sweep(db, settings, send, now=NOW + timedelta(seconds=2))
    assert not any(again.values()) and len(sent) == 1, (again, sent)


def test_stale_published_pending_is_republished_once_with_its_task_id(db: Any, settings: Settings) -> None:
    """Published long ago and still pending: the message was lost or dead-lettered."""
    documents.ensure_indexes(db)

    def pending(task_id: str, published_ago: float) -> dict[str, Any]:
        at = NOW - timedelta(seconds=published_ago)
        return {"task_id": task_id, "reason": "threshold", "requested_at": at, "published": True, "published_at": at}

    db.sessions.insert_many(
        [
            _session("stale", age=3600, tokens=150, last_seq=8, pending=pending("t-stale", 901)),
            _session("in-flight", age=60, tokens=150, last_seq=8, pending=pending("t-fresh", 60)),
        ]
    )
    sent, send = _recorder()
    counts = sweep(db, settings, send, now=NOW)
    assert counts["stale"] == 1 and counts["claimed"] == 0 and counts["unpublished"] == 0, counts
    assert sent == [
        (TaskName.SUMMARIZE_SESSION.value, {"v": 1, "session_id": "stale", "reason": "threshold"}, "t-stale")
    ]
    doc = db.sessions.find_one({"_id": "stale"})["summary_pending"]
    assert doc["task_id"] == "t-stale" and doc["published_at"] == NOW

    # Republished means fresh again: one stale period must pass before another try.
    assert not any(sweep(db, settings, send, now=NOW + timedelta(seconds=60)).values())
    assert len(sent) == 1
    assert sweep(db, settings, send, now=NOW + timedelta(seconds=902))["stale"] == 2  # both, a period later


def test_sweep_indexes_exist_and_both_clients_build_the_same(db: Any, settings: Settings) -> None:
    """The "missed" query has a partial index with the query's own filter; expired outbox
    records have a TTL. (The portable subset: TTL indexes exist; when they fire is not asserted.)"""
    documents.ensure_indexes(db)
    sessions = {tuple(i["key"].items()): i for i in db.sessions.list_indexes()}
    missed = sessions[(("tokens_since_summary", 1), ("updated_at", 1))]
    assert missed["partialFilterExpression"] == documents.sessions.NO_PENDING_SUMMARY
    assert (("summary_pending.published", 1), ("summary_pending.published_at", 1)) in sessions
    outbox = {tuple(i["key"].items()): i for i in db.outbox.list_indexes()}
    assert outbox[(("expired_at", 1),)]["expireAfterSeconds"] == documents.outbox.RETENTION_SECONDS
    assert outbox[(("published_at", 1),)]["expireAfterSeconds"] == documents.outbox.RETENTION_SECONDS

    def names(database: Any) -> dict[str, set[str]]:
        return {c: {i["name"] for i in database[c].list_indexes()} for c in database.list_collection_names()}

    expected = names(db)
    seen: dict[str, set[str]] = {}

    async def build_and_look() -> None:
        client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_url)
        other = client[settings.mongodb_db + "_async"]
        try:
            await documents.ensure_indexes_async(other)
            for name in await other.list_collection_names():
                seen[name] = {i["name"] async for i in await other[name].list_indexes()}
        finally:
            await client.drop_database(settings.mongodb_db + "_async")
            await client.close()

    asyncio.run(build_and_look())
    assert seen == expected


def _record(task_id: str, *, created_ago: float) -> dict[str, Any]:
    created_at = NOW - timedelta(seconds=created_ago)
    return documents.outbox.new_record(TaskName.SUMMARIZER_PING.value, {"v": 1}, task_id, now=created_at)


def test_two_sweeps_side_by_side_publish_each_record_once(db: Any, settings: Settings) -> None:
    """After an outage beat's backlog of sweep runs can run at once: each record is claimed by one."""
    documents.ensure_indexes(db)
    db.outbox.insert_many([_record(f"r{i}", created_ago=120) for i in range(3)])
    sent, record = _recorder()
    inner: list[dict[str, int]] = []

    def send(task: str, kwargs: dict[str, Any], task_id: str, options: dict[str, Any]) -> None:
        if not inner:  # the second sweep runs while the first is publishing its first record
            inner.append(sweep(db, settings, record, now=NOW))
        record(task, kwargs, task_id, options)

    first = sweep(db, settings, send, now=NOW)
    assert sorted(task_id for _, _, task_id in sent) == ["r0", "r1", "r2"], sent  # once each
    assert first["outbox"] + inner[0]["outbox"] == 3 and inner[0]["held"] >= 1, (first, inner)


def test_a_record_its_writer_is_publishing_is_left_to_it(db: Any, settings: Settings) -> None:
    """Past the grace period but still held by its writer (a slow fail-fast publish): not swept,
    until the writer's claim lapses (it crashed) or its publish fails (the claim is released)."""
    documents.ensure_indexes(db)
    db.outbox.insert_many([_record("crashed", created_ago=10), _record("failed", created_ago=10)])
    sent, send = _recorder()
    assert sweep(db, settings, send, now=NOW)["held"] == 2 and sent == []
    db.outbox.update_one({"_id": "failed"}, documents.outbox.failed("broker away"))
    assert sweep(db, settings, send, now=NOW)["outbox"] == 1 and [t for _, _, t in sent] == ["failed"]
    later = NOW + timedelta(seconds=documents.outbox.CLAIM_SECONDS)
    assert sweep(db, settings, send, now=later)["outbox"] == 1 and [t for _, _, t in sent] == ["failed", "crashed"]


def test_a_failed_sweep_publish_releases_its_claim(db: Any, settings: Settings) -> None:
    documents.ensure_indexes(db)
    db.outbox.insert_one(_record("r", created_ago=120))

    def broker_away(task: str, kwargs: dict[str, Any], task_id: str, options: dict[str, Any]) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        sweep(db, settings, broker_away, now=NOW)
    doc = db.outbox.find_one({"_id": "r"})
    assert doc["published_at"] is None and "claimed_until" not in doc and "broker away" in doc["last_error"]
    sent, send = _recorder()
    assert sweep(db, settings, send, now=NOW + timedelta(seconds=1))["outbox"] == 1 and len(sent) == 1


def test_a_failed_appends_hole_is_not_claimed_until_a_summary_can_step_over_it(db: Any, settings: Settings) -> None:
    """An append whose insert failed leaves its reserved numbers a hole, and (the server away)
    its tokens counted. Claiming such a session when nothing can be folded only runs a task
    that finds nothing, sweep after sweep."""
    documents.ensure_indexes(db)
    db.sessions.insert_many(
        [
            # 1-6 stored and summarized, 7-10 reserved by appends that failed: nothing to fold, ever.
            {**_session("trailing-hole", age=60, tokens=150, last_seq=10), "summary_upto_seq": 6},
            # Summarized to 2, 3-4 a hole, 5-10 written 30 s ago: the hole may be an insert in flight.
            {**_session("fresh-hole", age=30, tokens=150, last_seq=10), "summary_upto_seq": 2},
            # The same hole with its next message written 10 minutes ago: stepped over.
            {**_session("old-hole", age=600, tokens=150, last_seq=10), "summary_upto_seq": 2},
        ]
    )
    _store(db, "trailing-hole", list(range(1, 7)))
    _store(db, "fresh-hole", [1, 2, 5, 6, 7, 8, 9, 10], age=30)
    _store(db, "old-hole", [1, 2, 5, 6, 7, 8, 9, 10], age=600)
    sent, send = _recorder()
    counts = sweep(db, settings, send, now=NOW)
    assert counts["claimed"] == 1, counts
    assert [kwargs["session_id"] for _, kwargs, _ in sent] == ["old-hole"]
    assert db.sessions.find_one({"_id": "fresh-hole"})["summary_pending"] is None
    assert db.sessions.find_one({"_id": "trailing-hole"})["summary_pending"] is None

    # Two minutes on, the fresh hole is old too; the trailing one never gives anything to fold.
    counts = sweep(db, settings, send, now=NOW + timedelta(minutes=3))
    assert [kwargs["session_id"] for _, kwargs, _ in sent] == ["old-hole", "fresh-hole"], counts


def test_tokens_a_failed_append_could_not_give_back_are_recounted_once_it_is_quiet(db: Any, settings: Settings) -> None:
    """The trailing hole's 100 tokens stay counted (the give-back failed with the server): the
    sweep sets the count from the stored messages, but only once no append can be in flight,
    and only if nothing moved since it read the session."""
    documents.ensure_indexes(db)
    db.sessions.insert_many(
        [
            {**_session("quiet", age=600, tokens=150, last_seq=10), "summary_upto_seq": 6},
            {**_session("recent", age=60, tokens=150, last_seq=10), "summary_upto_seq": 6},
        ]
    )
    for session_id in ("quiet", "recent"):
        _store(db, session_id, list(range(1, 9)))  # 7 and 8 kept verbatim (keep-recent 2): 50 tokens
    sent, send = _recorder()
    counts = sweep(db, settings, send, now=NOW)
    assert counts["recounted"] == 1 and counts["claimed"] == 0 and sent == [], counts
    assert db.sessions.find_one({"_id": "quiet"})["tokens_since_summary"] == 50
    assert db.sessions.find_one({"_id": "recent"})["tokens_since_summary"] == 150  # an insert may be in flight

    # Below the threshold now: the sweep no longer finds it at all.
    assert sweep(db, settings, send, now=NOW + timedelta(minutes=1))["recounted"] == 0


def test_a_recount_never_overwrites_an_append_made_after_the_read(db: Any) -> None:
    """The recount is a compare-and-set on the session as read: an append reserved since (it
    moves ``last_seq`` and ``updated_at``) keeps its tokens."""
    documents.ensure_indexes(db)
    seen = {**_session("raced", age=600, tokens=150, last_seq=10), "summary_upto_seq": 6}
    db.sessions.insert_one(seen)
    db.sessions.update_one({"_id": "raced"}, documents.sessions.reserve_update(2, 40, NOW))
    result = db.sessions.update_one(documents.sessions.recount_filter("raced", seen),
                                    documents.sessions.recount_update(50))  # fmt: skip
    assert result.modified_count == 0
    assert db.sessions.find_one({"_id": "raced"})["tokens_since_summary"] == 190
    assert (
        db.sessions.update_one(
            documents.sessions.recount_filter("raced", db.sessions.find_one({"_id": "raced"})),
            documents.sessions.recount_update(50),
        ).modified_count
        == 1
    )


def test_the_sweep_steps_over_holes_and_recounts_by_the_configured_grace(
    db: Any, make_settings: Callable[..., Settings]
) -> None:
    """RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS=10: a hole whose next message is 30 s old is stepped
    over (claimed), and a trailing hole's session untouched for 30 s is recounted."""
    settings = make_settings(
        summary_trigger_tokens=100, summary_keep_recent_messages=2, outbox_grace_seconds=5,
        outbox_stale_pending_seconds=900, summary_hole_grace_seconds=10,
    )  # fmt: skip
    documents.ensure_indexes(db)
    db.sessions.insert_many(
        [
            {**_session("hole", age=30, tokens=150, last_seq=10), "summary_upto_seq": 2},
            {**_session("trailing", age=30, tokens=150, last_seq=10), "summary_upto_seq": 6},
        ]
    )
    _store(db, "hole", [1, 2, 5, 6, 7, 8, 9, 10], age=30)
    _store(db, "trailing", list(range(1, 7)), age=30)
    sent, send = _recorder()
    counts = sweep(db, settings, send, now=NOW)
    assert counts["claimed"] == 1 and counts["recounted"] == 1, counts
    assert [kwargs["session_id"] for _, kwargs, _ in sent] == ["hole"]
    assert db.sessions.find_one({"_id": "trailing"})["tokens_since_summary"] == 0
