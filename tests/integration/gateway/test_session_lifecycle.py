"""Session reads and deletion through the gateway: the gap-free context and ``?max_tokens=``,
the summary history, and ``DELETE /v1/sessions/{id}`` (idempotent, everything gone)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.helpers import auth
from tests.support.procs import metric_value

ZH = ["你好，我的耳机有杂音。", "请提供订单号。", "订单号是 20240611。", "已为您登记退货。", "谢谢！", "不客气。"]


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A gateway with the default limits (the package's ``client`` takes 3 messages at most)."""
    return make_client()


def append(client: TestClient, session_id: str, contents: list[str], role: str | None = None) -> None:
    messages = [{"role": role or ("user" if i % 2 == 0 else "assistant"), "content": c} for i, c in enumerate(contents)]
    r = client.post(f"/v1/sessions/{session_id}/messages", json={"messages": messages}, headers=auth())
    assert r.status_code == 200, r.text


def context(client: TestClient, session_id: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/sessions/{session_id}/context", params=params, headers=auth())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_context_stops_at_a_hole_in_flight(client: TestClient, db: Any) -> None:
    append(client, "holes", ZH)
    # 3 is reserved by an append still writing (its insert has not landed): 4..6 wait behind it.
    db.messages.delete_one({"session_id": "holes", "seq": 3})
    assert [m["seq"] for m in context(client, "holes")["messages"]] == [1, 2]
    # A hole older than the grace period is an append that failed for good: stepped over.
    old = datetime.now(UTC) - timedelta(minutes=5)
    db.messages.update_many({"session_id": "holes"}, {"$set": {"created_at": old}})
    assert [m["seq"] for m in context(client, "holes")["messages"]] == [1, 2, 4, 5, 6]


def test_the_hole_grace_is_a_setting(make_client: Callable[..., TestClient], db: Any) -> None:
    """RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS: the same hole, 30 s old, is in flight under the
    default two minutes and stepped over under a 10 s grace (the summarizer reads the same)."""
    default, short = make_client(), make_client(summary_hole_grace_seconds=10)
    append(default, "graced", ZH)
    db.messages.delete_one({"session_id": "graced", "seq": 3})
    db.messages.update_many(
        {"session_id": "graced"}, {"$set": {"created_at": datetime.now(UTC) - timedelta(seconds=30)}}
    )
    assert [m["seq"] for m in context(default, "graced")["messages"]] == [1, 2]
    assert [m["seq"] for m in context(short, "graced")["messages"]] == [1, 2, 4, 5, 6]


def test_context_max_tokens_returns_the_newest_messages_that_fit(client: TestClient, db: Any) -> None:
    append(client, "budget", ZH)
    tokens = {d["seq"]: d["tokens"] for d in db.messages.find({"session_id": "budget"})}
    body = context(client, "budget", max_tokens=tokens[5] + tokens[6])
    assert [m["seq"] for m in body["messages"]] == [5, 6]
    assert context(client, "budget", max_tokens=tokens[6] - 1)["messages"] == []
    assert len(context(client, "budget", max_tokens=10**6)["messages"]) == 6
    for bad in ("0", "-5", "abc"):
        r = client.get("/v1/sessions/budget/context", params={"max_tokens": bad}, headers=auth())
        assert r.status_code == 422, r.text


def test_summary_history(client: TestClient, db: Any) -> None:
    append(client, "hist", ZH)
    now = datetime.now(UTC)
    db.summaries.insert_many(
        [
            {
                "session_id": "hist",
                "from_seq": 0,
                "upto_seq": 2,
                "summary": "一",
                "model": "m1",
                "tokens_covered": 9,
                "committed": True,
                "created_at": now - timedelta(minutes=2),
            },
            {
                "session_id": "hist",
                "from_seq": 2,
                "upto_seq": 4,
                "summary": "二",
                "model": "m2",
                "tokens_covered": 8,
                "committed": True,
                "created_at": now - timedelta(minutes=1),
            },
            # Written by a task that lost its compare-and-set: never part of the history.
            {
                "session_id": "hist",
                "from_seq": 2,
                "upto_seq": 3,
                "summary": "x",
                "model": "m2",
                "tokens_covered": 4,
                "committed": False,
                "created_at": now,
            },
        ]
    )
    r = client.get("/v1/sessions/hist/summaries", headers=auth())
    assert r.status_code == 200, r.text
    items = r.json()["summaries"]
    assert [(s["from_seq"], s["upto_seq"], s["model"], s["summary"]) for s in items] == [
        (0, 2, "m1", "一"),
        (2, 4, "m2", "二"),
    ]
    assert all(s["created_at"] for s in items)
    r = client.get("/v1/sessions/nope/summaries", headers=auth())
    assert r.status_code == 404, r.text


def test_delete_removes_everything_and_is_idempotent(client: TestClient, db: Any) -> None:
    append(client, "gone", ZH)
    append(client, "kept", ZH[:2])
    db.summaries.insert_one({"session_id": "gone", "from_seq": 0, "upto_seq": 2, "summary": "摘要", "committed": True})
    db.sessions.update_one(
        {"_id": "gone"}, {"$set": {"summary_pending": {"task_id": "t-1", "reason": "manual", "published": True}}}
    )
    r = client.delete("/v1/sessions/gone", headers=auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"session_id": "gone", "deleted": True, "messages_deleted": 6, "summaries_deleted": 1}
    for name, field in (("sessions", "_id"), ("messages", "session_id"), ("summaries", "session_id")):
        assert db[name].count_documents({field: "gone"}) == 0, name
    assert db.messages.count_documents({"session_id": "kept"}) == 2
    again = client.delete("/v1/sessions/gone", headers=auth())
    assert again.status_code == 200 and again.json()["deleted"] is False, again.text
    assert client.get("/v1/sessions/gone/context", headers=auth()).status_code == 404
    assert client.delete("/v1/sessions/gone", headers={}).status_code == 401
    assert metric_value(client.get("/metrics").text, "ragtasks_sessions_deleted_total", {"reason": "request"}) >= 1


def test_a_summary_is_triggered_by_message_count_when_set(make_client: Callable[..., TestClient], db: Any) -> None:
    api = make_client(summary_trigger_messages=4)
    messages = [{"role": "user", "content": c} for c in ZH[:3]]
    r = api.post("/v1/sessions/count/messages", json={"messages": messages}, headers=auth())
    assert r.status_code == 200 and r.json()["summary_task_id"] is None, r.text  # 3 short messages: not yet
    r = api.post("/v1/sessions/count/messages", json={"messages": messages[:1]}, headers=auth())
    assert r.status_code == 200 and r.json()["summary_task_id"], r.text  # the 4th since the last summary
    assert db.sessions.find_one({"_id": "count"})["summary_pending"]["reason"] == "threshold"
