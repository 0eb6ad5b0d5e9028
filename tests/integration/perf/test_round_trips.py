"""Round trips per operation, counted by the drivers' own instrumentation (issue 17's budgets).

- An append: the gateway's store functions the route awaits
  (``ragtasks_gateway.stores.sessions.append``, and ``claim_pending`` when the append crossed the
  threshold), called with an ``AsyncMongoClient`` carrying a ``pymongo.monitoring.CommandListener``.
  Every command the driver starts is one round trip to the server.
- A summary: the summarizer task's body (``summarize_session.run``, a plain function call in this
  process -- not Celery's eager mode, which the tests never use) with the process runtime's Mongo
  and Redis clients replaced by instrumented ones: the same listener, and a Redis connection class
  that counts each packed send (one per command, one per pipeline). Celery's own result-backend
  writes (STARTED and SUCCESS, with ``task_track_started``) are not part of the task body and are
  not counted here: they are the same as bare Celery's (a GET and a SETEX+PUBLISH pipeline each).

The budgets below are today's counts; a change that adds a round trip fails here and has to say why.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, ClassVar

import pytest
import redis
from benchmarks.bench_summarize import seed
from pymongo import AsyncMongoClient, MongoClient, monitoring

from ragtasks_core import runtime
from ragtasks_core.settings import Settings

pytestmark = pytest.mark.integration

# Issue 17: an append that does not trigger a summary costs at most 2 Mongo round trips.
APPEND_MONGO_BUDGET = 2
# An append that crosses the threshold also claims the pending-summary slot (a guarded update_one);
# the route then publishes and marks the pending record published (one more update, not counted here).
TRIGGERING_APPEND_MONGO_BUDGET = 3
# One offline (extractive) summary's task body on a first delivery, one fold step (was 12 on
# 2026-12-02, then 10; issue 17 counted 7):
#   find sessions          the watermark, previous summary and threshold fields
#   find messages          everything after the watermark, contents included (a session within
#                          two prompt limits of unsummarized tokens is read in one query)
#   insert summaries       under the (session, from, upto) key; no look-up first on a first delivery
#   findAndModify sessions compare-and-set commit that also frees the pending slot (the last step)
#                          and replies with the threshold fields: no re-read, no release update,
#                          no read for "does it want the next summary"
#   update summaries       mark the recorded summary committed
SUMMARY_MONGO_BUDGET = 5
# A redelivered (or retried) task first looks for a summary already recorded for its range.
REDELIVERED_SUMMARY_MONGO_BUDGET = SUMMARY_MONGO_BUDGET + 1
# No Redis round trip on a first delivery: the failure counter is DELeted only when the task
# was retried or redelivered (bare Celery's result-backend writes are the same and not counted).
SUMMARY_REDIS_BUDGET = 0
REDELIVERED_SUMMARY_REDIS_BUDGET = 1


class Commands(monitoring.CommandListener):
    """Every command a client starts (each one is a request/response with the server)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.seen: list[str] = []  # "command collection", for a failure message that says which

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)
        self.seen.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class CountingConnection(redis.Connection):
    """A redis-py connection counting its sends: one per command, one per pipeline."""

    sends: ClassVar[list[bytes]] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        parts = command if isinstance(command, list) else [command]
        CountingConnection.sends.append(b"".join(bytes(p) for p in parts)[:80])
        super().send_packed_command(command, check_health)


def _append(settings: Settings, session_id: str, contents: list[str], trigger_tokens: int) -> list[str]:
    from ragtasks_gateway.models.sessions import ChatMessage
    from ragtasks_gateway.stores import sessions

    async def go() -> list[str]:
        listener = Commands()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongodb_url, tz_aware=True, event_listeners=[listener]
        )
        try:
            db = client[settings.mongodb_db]
            collections = sessions.Collections.of(db)  # what the app's lifespan makes
            warm = [ChatMessage(role="user", content="warm-up")]  # pool connection, first-call set-up
            await sessions.append(collections, f"warm-{uuid.uuid4().hex}", warm, trigger_tokens=10**9)
            listener.names.clear()
            messages = [ChatMessage(role="user", content=c) for c in contents]
            appended = await sessions.append(collections, session_id, messages, trigger_tokens=trigger_tokens)
            if appended.past_threshold:
                await sessions.claim_pending(db, session_id, reason="threshold")
            return list(listener.names)
        finally:
            await client.close()

    return asyncio.run(go())


def test_an_append_below_the_threshold_is_two_mongo_round_trips(settings: Settings) -> None:
    contents = ["我想退货，耳机左边有杂音。", "The left earbud crackles at high volume."]
    first = _append(settings, "rt-new", contents, trigger_tokens=10**9)  # the session's upsert
    again = _append(settings, "rt-new", contents, trigger_tokens=10**9)
    assert first == ["findAndModify", "insert"], first
    assert again == ["findAndModify", "insert"], again
    assert len(again) <= APPEND_MONGO_BUDGET, again


def test_an_append_crossing_the_threshold_claims_with_one_more(settings: Settings) -> None:
    names = _append(settings, "rt-trigger", ["a message long enough to pass a one-token threshold"], 1)
    assert names == ["findAndModify", "insert", "update"], names
    assert len(names) <= TRIGGERING_APPEND_MONGO_BUDGET, names


@pytest.fixture
def instrumented_runtime(make_settings: Any) -> Any:
    settings = make_settings(summary_keep_recent_messages=1)
    runtime.close_runtime()
    runtime.configure(settings)
    rt = runtime.get_runtime()
    listener = Commands()
    rt.__dict__["mongo_client"] = MongoClient(settings.mongodb_url, tz_aware=True, event_listeners=[listener])
    pool = redis.ConnectionPool.from_url(settings.effective_redis_url, connection_class=CountingConnection)
    rt.__dict__["redis"] = redis.Redis(connection_pool=pool)
    try:
        yield rt, listener
    finally:
        runtime.close_runtime()
        runtime.configure(Settings())


def _summarize(session_id: str, *, redelivered: bool = False) -> object:
    from ragtasks_summarizer.tasks import summarize_session

    # What the worker's request carries for a message from the queue (pyamqp's basic.deliver).
    delivery_info = {"exchange": "", "routing_key": "summarizer", "redelivered": redelivered}
    summarize_session.push_request(id=f"rt-{uuid.uuid4().hex}", retries=0, delivery_info=delivery_info)
    try:
        return summarize_session.run(v=1, session_id=session_id)
    finally:
        summarize_session.pop_request()


def _measure(rt: Any, listener: Commands, *, redelivered: bool) -> tuple[list[str], list[bytes]]:
    [session_id] = seed(rt.db, f"rt-{uuid.uuid4().hex[:6]}", 1)
    listener.names.clear()
    listener.seen.clear()
    CountingConnection.sends.clear()
    result = _summarize(session_id, redelivered=redelivered)
    assert result["status"] == "committed", result  # type: ignore[index]
    return list(listener.seen), list(CountingConnection.sends)


def test_a_summary_round_trips(instrumented_runtime: Any) -> None:
    rt, listener = instrumented_runtime
    [warm] = seed(rt.db, "rt-warm", 1)
    assert _summarize(warm)["status"] == "committed"  # type: ignore[index]  # indexes, connections
    rt.redis.ping()  # the Redis connection's handshake (HELLO, CLIENT) is not the task's

    mongo, redis_sends = _measure(rt, listener, redelivered=False)
    assert mongo == [
        "find sessions",
        "find messages",
        "insert summaries",
        "findAndModify sessions",
        "update summaries",
    ], mongo
    assert len(mongo) <= SUMMARY_MONGO_BUDGET, mongo
    assert len(redis_sends) <= SUMMARY_REDIS_BUDGET, redis_sends
    session = rt.db.sessions.find_one({"_id": {"$regex": "^rt-"}, "summary_upto_seq": 2, "summary_pending": None})
    assert session is not None

    again, redis_again = _measure(rt, listener, redelivered=True)
    assert again[2] == "find summaries", again  # the look-up a redelivery needs (spares an LLM call)
    assert len(again) <= REDELIVERED_SUMMARY_MONGO_BUDGET, again
    assert len(redis_again) <= REDELIVERED_SUMMARY_REDIS_BUDGET and b"DEL" in redis_again[0], redis_again


def test_the_last_commit_frees_the_pending_slot_it_holds(instrumented_runtime: Any) -> None:
    """The release folded into the commit frees this task's slot and never another task's."""
    rt, _ = instrumented_runtime
    [mine, other] = seed(rt.db, f"rt-slot-{uuid.uuid4().hex[:6]}", 2)
    from ragtasks_summarizer.tasks import summarize_session

    for session_id, holder in ((mine, "rt-holder"), (other, "someone-else")):
        pending = {"task_id": holder, "reason": "threshold", "published": True}
        rt.db.sessions.update_one({"_id": session_id}, {"$set": {"summary_pending": pending}})
    delivery_info = {"exchange": "", "routing_key": "summarizer", "redelivered": False}
    for session_id in (mine, other):
        summarize_session.push_request(id="rt-holder", retries=0, delivery_info=delivery_info)
        try:
            assert summarize_session.run(v=1, session_id=session_id)["status"] == "committed"
        finally:
            summarize_session.pop_request()
    assert rt.db.sessions.find_one({"_id": mine})["summary_pending"] is None
    held = rt.db.sessions.find_one({"_id": other})
    assert held["summary_pending"]["task_id"] == "someone-else" and held["summary_upto_seq"] == 2
