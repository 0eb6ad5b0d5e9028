"""The gateway's HTTP contract: auth, validation (nothing half-written), probes, task states."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.documents.outbox import COLLECTION as OUTBOX
from tests.integration.helpers import auth
from tests.support.procs import has_series

OK = {"messages": [{"role": "user", "content": "hello"}]}


def no_writes(db: Any) -> None:
    assert db.sessions.count_documents({}) == 0
    assert db.messages.count_documents({}) == 0


def reason(response: Any) -> str:
    body = response.json()
    assert "Traceback" not in response.text
    return str(body["detail"])


# --- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, auth("wrong-key-0123456789"), {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "Bearer"}],
)
def test_auth_refused(client: TestClient, db: Any, headers: dict[str, str]) -> None:
    for method, path in (("POST", "/v1/sessions/s1/messages"), ("GET", "/v1/tasks/abc")):
        r = client.request(method, path, json=OK, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in reason(r)
    # A body that would not validate still gets 401 first: nothing about its shape is revealed.
    for body in (b"{not json", b'{"messages": "x"}'):
        json_headers = {**headers, "Content-Type": "application/json"}
        r = client.post("/v1/sessions/s1/messages", content=body, headers=json_headers)
        assert r.status_code == 401 and "bearer token" in reason(r), r.text
    no_writes(db)


def test_auth_compares_every_key_in_constant_time(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ragtasks_core.api_keys as deps  # where the gateway's key comparison lives

    calls: list[tuple[bytes, bytes]] = []
    real = deps.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(deps.hmac, "compare_digest", spy)
    keys = ["first-key-0123456789", "second-key-0123456789", "third-key-0123456789"]
    client = make_client(api_keys=",".join(keys))
    assert client.get("/v1/tasks/abc", headers=auth(keys[0])).status_code == 200
    # No early exit on a match: every configured key was compared.
    assert [b.decode() for _, b in calls] == keys


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"messages": [{"role": "robot", "content": "hi"}]}, 422, "role"),
        ({"messages": [{"role": "user", "content": ""}]}, 422, "content"),
        ({"messages": [{"role": "user", "content": "   \n"}]}, 422, "blank"),
        ({"messages": []}, 422, "messages"),
        ({"messages": [{"role": "user", "content": "hi", "extra": 1}]}, 422, "extra"),
        ({"messages": [{"role": "user", "content": {"$gt": ""}}]}, 422, "content"),
        ({"messages": [{"role": {"$ne": None}, "content": "hi"}]}, 422, "role"),
        ({"messages": {"$where": "1"}}, 422, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 201}]}, 413, "limit is 200"),
        ({"messages": [{"role": "user", "content": "ok"}] * 4}, 413, "at most 3"),
        # One good message and one oversized one: refused whole, nothing written.
        ({"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": "y" * 500}]}, 413, "[1]"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(
    client: TestClient, db: Any, body: dict[str, Any], status: int, needle: str
) -> None:
    r = client.post("/v1/sessions/s1/messages", json=body, headers=auth())
    assert r.status_code == status, r.text
    assert needle in reason(r), r.text
    no_writes(db)


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"messages": [}', b"\xff\xfe"])
def test_malformed_json(client: TestClient, db: Any, raw: bytes) -> None:
    r = client.post("/v1/sessions/s1/messages", content=raw, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert reason(r)
    no_writes(db)


@pytest.mark.parametrize(
    "bad_id",
    [
        "a%20b",
        "-starts-with-dash",
        "x" * 129,
        "%24gt",  # "$gt"
        "%7B%22%24gt%22%3A%22%22%7D",  # '{"$gt":""}': operator injection as an id
        "%00",
        "%2E%2E",
        "caf%C3%A9",
    ],
)
def test_bad_ids_get_422_with_a_reason(client: TestClient, db: Any, bad_id: str) -> None:
    for method, path, param in (
        ("POST", f"/v1/sessions/{bad_id}/messages", "session_id"),
        ("GET", f"/v1/sessions/{bad_id}/context", "session_id"),
        ("POST", f"/v1/sessions/{bad_id}/summarize", "session_id"),
        ("GET", f"/v1/tasks/{bad_id}", "task_id"),
    ):
        r = client.request(method, path, json=OK, headers=auth())
        assert r.status_code == 422, (path, r.status_code, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["path", param], error
        assert "should match pattern" in error["msg"], error
        assert "Traceback" not in r.text
    no_writes(db)


def test_an_id_with_a_slash_matches_no_route(client: TestClient, db: Any) -> None:
    # "%2F" decodes to "/" before routing: two path segments, so no route (and no id) is reached.
    for method, path in (("POST", "/v1/sessions/a%2Fb/messages"), ("GET", "/v1/tasks/a%2Fb")):
        r = client.request(method, path, json=OK, headers=auth())
        assert r.status_code == 404, r.text
        assert reason(r) == "Not Found"
    no_writes(db)


def test_valid_append_and_unknown_session(client: TestClient, db: Any) -> None:
    r = client.post("/v1/sessions/s1/messages", json=OK, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["last_seq"] == 1
    assert db.messages.count_documents({"session_id": "s1"}) == 1
    r = client.get("/v1/sessions/nope/context", headers=auth())
    assert r.status_code == 404 and "not found" in reason(r)


# --- probes -----------------------------------------------------------------------------------------


def test_healthz_metrics_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    client.get("/v1/tasks/abc", headers=auth())
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    labels = {"method": "GET", "route": "/v1/tasks/{task_id}", "status": "200", "caller": "key-1"}  # a bare token
    assert has_series(metrics.text, "ragtasks_http_requests_total", labels)
    # Publish series exist at zero before anything is published (rate() is 0, not "no data").
    for outcome in ("ok", "error"):
        labels = {"task": TaskName.SUMMARIZE_SESSION.value, "queue": "summarizer", "outcome": outcome}
        assert has_series(metrics.text, "ragtasks_tasks_published_total", labels)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"mongo": "ok", "redis": "ok", "broker": "ok"}}


def _dead(scheme: str) -> str:
    from tests.support.procs import free_port

    port = free_port()  # nothing listens there
    return {
        "mongodb": f"mongodb://127.0.0.1:{port}/?retryWrites=false",
        "redis": f"redis://127.0.0.1:{port}/0",
        "amqp": f"amqp://guest:guest@127.0.0.1:{port}//",
    }[scheme]


@pytest.mark.parametrize(
    ("setting", "scheme", "check"),
    [
        ("mongodb_url", "mongodb", "mongo"),
        ("redis_url", "redis", "redis"),
        ("result_backend", "redis", "redis"),  # task state on a Redis of its own
        ("broker_url", "amqp", "broker"),
    ],
)
def test_readyz_reports_the_dependency_that_is_down(
    make_client: Callable[..., TestClient], setting: str, scheme: str, check: str
) -> None:
    started = time.monotonic()
    client = make_client(**{setting: _dead(scheme)})
    assert time.monotonic() - started < 15  # start-up does not wait out the driver's 30 s
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    r = client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "not ready"
    checks = r.json()["checks"]
    assert checks[check].startswith("error:"), checks
    assert {name: value for name, value in checks.items() if name != check} == {
        name: "ok" for name in ("mongo", "redis", "broker") if name != check
    }


def test_unknown_task_is_pending(client: TestClient) -> None:
    r = client.get("/v1/tasks/no-such-task", headers=auth())
    assert r.json() == {"task_id": "no-such-task", "state": "PENDING", "result": None, "error": None}


# --- one pending summary per session -------------------------------------------------------------


def test_concurrent_appends_claim_one_summary(make_client: Callable[..., TestClient], db: Any) -> None:
    client = make_client(summary_trigger_tokens=40)
    sessions = [f"race-{i}" for i in range(6)]
    for sid in sessions:  # just under the threshold
        r = client.post(
            f"/v1/sessions/{sid}/messages",
            json={"messages": [{"role": "user", "content": "one two three four five six"}]},
            headers=auth(),
        )
        assert r.json()["summary_task_id"] is None
    results: dict[str, list[str | None]] = {sid: [] for sid in sessions}
    barrier = threading.Barrier(len(sessions) * 2)

    def append(sid: str) -> None:
        barrier.wait()
        r = client.post(
            f"/v1/sessions/{sid}/messages",
            json={"messages": [{"role": "user", "content": "seven eight nine ten " * 5}]},
            headers=auth(),
        )
        assert r.status_code == 200, r.text
        results[sid].append(r.json()["summary_task_id"])

    threads = [threading.Thread(target=append, args=(sid,)) for sid in sessions for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for sid in sessions:
        claimed = [t for t in results[sid] if t]
        assert len(results[sid]) == 2 and len(claimed) == 1, results
        pending = db.sessions.find_one({"_id": sid})["summary_pending"]
        assert pending["task_id"] == claimed[0] and pending["published"] is True


def test_an_alert_without_a_fingerprint_gets_a_stable_one(client: TestClient, db: Any) -> None:
    disk = {"title": "Disk almost full", "labels": {"host": "db-1"}}
    ids = [client.post("/v1/alerts", json=disk, headers=auth()).json()["task_ids"][0] for _ in range(2)]
    other = client.post("/v1/alerts", json={**disk, "labels": {"host": "db-2"}}, headers=auth())
    assert other.status_code == 202, other.text
    outbox = db[OUTBOX].find({"task": TaskName.RAISE_ALERT.value})
    recorded = {doc["_id"]: doc["kwargs"]["fingerprint"] for doc in outbox}
    # The same alert sent twice is one alert (one fingerprint); other labels, another alert.
    assert recorded[ids[0]] == recorded[ids[1]] and recorded[ids[0]].startswith("api:")
    assert recorded[other.json()["task_ids"][0]] != recorded[ids[0]]
    missing_title = client.post("/v1/alerts", json={"labels": {}}, headers=auth())
    assert missing_title.status_code == 422 and "title" in missing_title.text
