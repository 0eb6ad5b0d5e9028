"""RAGTASKS_API_KEY_ISOLATION (issue 15) on a real gateway process, a real alerter worker and the
real Mongo server: each named key sees only the sessions, KBs, evaluations and alerts it created
(404 otherwise, for the record and everything under it), lists are filtered, a key listing
``admin`` sees everything, and with isolation off every key shares as before."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx

from ragtasks_core import outbox
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from ragtasks_evaluator.nightly import create_nightly_evaluation
from tests.integration.helpers import gateway_client
from tests.support.procs import start_together, wait_until

ALICE, BOB, OPS, BARE = "tok-alice-7Qp2x9", "tok-bob-9Lm4k2", "tok-ops-3Xk8w5", "tok-bare-5Rt1q8"
# Alice and Bob list no scopes: they have all three, DELETE included, and are still confined;
# only a key that lists ``admin`` sees everything.
KEYS = f"alice:{ALICE},bob:{BOB},ops:{OPS}:read+write+admin,{BARE}"
TURN = {"messages": [{"role": "user", "content": "如何重置 VPN 密码？"}]}
CHUNKS = {"chunks": [{"chunk_id": "c1", "text": "重置 VPN 密码：打开设置。"}, {"chunk_id": "c2", "text": "VPN reset."}]}


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _start(
    env: dict[str, str], start_gateway: Callable[..., Any], isolation: bool, alongside: Callable[[], Any] | None = None
) -> httpx.Client:
    """A client of a gateway started with ``KEYS``; ``alongside`` (a worker's start) runs at the same time."""
    gateway_env = {**env, "RAGTASKS_API_KEYS": KEYS, "RAGTASKS_API_KEY_ISOLATION": str(isolation).lower()}
    gateway, *_ = start_together(lambda: start_gateway(gateway_env), *([alongside] if alongside else []))
    return gateway_client(gateway.port)


def _session_paths(session_id: str) -> list[tuple[str, str]]:
    base = f"/v1/sessions/{session_id}"
    return [
        ("POST", f"{base}/messages"),
        ("GET", f"{base}/context"),
        ("GET", f"{base}/summaries"),
        ("POST", f"{base}/summarize"),
    ]


def _kb_paths(kb_id: str) -> list[tuple[str, str]]:
    base = f"/v1/kbs/{kb_id}"
    return [
        ("GET", base),
        ("PUT", base),
        ("POST", f"{base}/chunks"),
        ("DELETE", f"{base}/chunks/c1"),
        ("POST", f"{base}/chunks:delete"),
        ("GET", f"{base}/merges"),
        ("GET", f"{base}/queries"),
        ("GET", f"{base}/queries?source=events"),
        ("POST", f"{base}/queries"),
    ]


BODIES = {
    "messages": TURN,
    "chunks": CHUNKS,
    "chunks:delete": {"chunk_ids": ["c1"]},
    "queries": {"query": "如何重置 VPN 密码？", "relevant": {"c1": 1}},
}


def _call(api: httpx.Client, token: str, method: str, path: str) -> httpx.Response:
    body = BODIES.get(path.rsplit("/", 1)[-1]) if method == "POST" else None
    if method == "PUT":
        body = {"retriever": None}
    return api.request(method, path, json=body, headers=_as(token))


def _refused(api: httpx.Client, token: str, paths: list[tuple[str, str]]) -> None:
    for method, path in paths:
        r = _call(api, token, method, path)
        assert r.status_code == 404, (method, path, r.status_code, r.text)


def _raise_system_alert(settings: Settings, db: Any) -> None:
    """What a worker raises when a task fails for good: about no KB, owned by nobody."""
    alert = RaiseAlert(
        fingerprint="task_failure:ragtasks.summarizer.summarize:ValueError",
        severity="critical",
        title="summarize failed for good: ValueError",
        body="Last failure: task t-1",
        labels={"task": "ragtasks.summarizer.summarize", "queue": "summarizer", "exception": "ValueError"},
        source="task_failure",
    )
    app = create_celery(settings)
    try:
        kwargs = alert.model_dump(mode="json")
        assert outbox.publish_reliably_sync(app, db, TaskName.RAISE_ALERT.value, kwargs, outbox.new_task_id())
    finally:
        app.close()


def _alerts(api: httpx.Client, token: str) -> dict[str, dict[str, Any]]:
    r = api.get("/v1/alerts", headers=_as(token))
    assert r.status_code == 200, r.text
    return {a["source"]: a for a in r.json()["alerts"]}


def test_each_key_sees_only_what_it_created(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, settings: Settings, db: Any
) -> None:
    env = {**worker_env, "RAGTASKS_EMPTY_RETRIEVAL_THRESHOLD": "3", "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "1"}
    alerter = functools.partial(start_worker, "alerter", {**env, "RAGTASKS_API_KEYS": KEYS}, concurrency=1)
    with _start(env, start_gateway, isolation=True, alongside=alerter) as api:
        # Sessions: a new id belongs to its first writer; another key meets 404 and writes nothing.
        assert api.post("/v1/sessions/s-alice/messages", json=TURN, headers=_as(ALICE)).status_code == 200
        _refused(api, BOB, _session_paths("s-alice"))
        _refused(api, BARE, _session_paths("s-alice"))
        # Deleting another key's session answers as deleting a missing one does, and deletes nothing.
        foreign = api.delete("/v1/sessions/s-alice", headers=_as(BOB)).json()
        missing = api.delete("/v1/sessions/s-none", headers=_as(BOB)).json()
        assert {**foreign, "session_id": "s-none"} == missing and missing["deleted"] is False
        context = api.get("/v1/sessions/s-alice/context", headers=_as(ALICE)).json()
        assert [m["seq"] for m in context["messages"]] == [1], context  # Bob's append wrote nothing
        assert api.get("/v1/sessions/s-alice/context", headers=_as(OPS)).status_code == 200
        assert api.post("/v1/sessions/s-bob/messages", json=TURN, headers=_as(BOB)).status_code == 200
        assert api.get("/v1/sessions/s-bob/context", headers=_as(ALICE)).status_code == 404
        assert db["sessions"].find_one({"_id": "s-alice"})["created_by"] == "alice"

        # KBs and everything under them.
        assert api.post("/v1/kbs/kb-alice/chunks", json=CHUNKS, headers=_as(ALICE)).status_code == 200
        before = api.get("/v1/kbs/kb-alice", headers=_as(ALICE)).json()
        assert before["created_by"] == "alice" and before["chunks"] == 2
        _refused(api, BOB, _kb_paths("kb-alice"))
        assert api.get("/v1/kbs/kb-alice", headers=_as(ALICE)).json() == before  # nothing written
        assert api.get("/v1/kbs/kb-alice", headers=_as(OPS)).json()["created_by"] == "alice"

        # Evaluations: their own, a nightly one of Alice's KB, and the lists.
        r = api.post("/v1/evaluations", json={"kb_id": "kb-alice", "sample_size": 2}, headers=_as(BOB))
        assert r.status_code == 404, r.text
        r = api.post("/v1/evaluations", json={"kb_id": "kb-alice", "sample_size": 2}, headers=_as(ALICE))
        assert r.status_code == 202, r.text
        mine = r.json()["evaluation_id"]
        assert create_nightly_evaluation(db, "kb-alice", "nightly-2030-01-01-kb-alice", settings=settings)
        for evaluation_id in (mine, "nightly-2030-01-01-kb-alice"):
            base = f"/v1/evaluations/{evaluation_id}"
            assert api.get(base, headers=_as(ALICE)).json()["created_by"] == "alice"
            paths = [("GET", base), ("GET", f"{base}/rows"), ("GET", f"{base}/rows.csv")]
            _refused(api, BOB, [*paths, ("GET", f"{base}/rows?format=csv"), ("POST", f"{base}/baseline")])
            assert api.get(base, headers=_as(OPS)).status_code == 200
        listed = {who: api.get("/v1/evaluations", headers=_as(token)).json()["evaluations"] for who, token in
                  (("alice", ALICE), ("bob", BOB), ("ops", OPS))}  # fmt: skip
        assert {e["evaluation_id"] for e in listed["alice"]} == {mine, "nightly-2030-01-01-kb-alice"}
        assert listed["bob"] == [] and len(listed["ops"]) == 2
        assert api.get("/v1/evaluations?kb_id=kb-alice", headers=_as(BOB)).json()["evaluations"] == []

        # Alerts: raised by Alice, about Alice's KB (empty retrievals Bob's app reports), and a
        # worker's failure about no KB.
        r = api.post("/v1/alerts", json={"title": "磁盘将满", "labels": {"host": "a"}}, headers=_as(ALICE))
        assert r.status_code == 202, r.text
        events = [{"kb_id": "kb-alice", "query": f"查询 {i}", "n_results": 0} for i in range(3)]
        r = api.post("/v1/retrieval-events", json={"events": events}, headers=_as(BOB))
        assert r.status_code == 202, r.text
        # Counted in Alice's window, but Bob sees none of its numbers and samples none of its queries.
        assert r.json()["kbs"] == [] and r.json()["alerts"] == [] and r.json()["queries_queued"] is False
        _raise_system_alert(settings, db)
        every = wait_until(lambda: _alerts(api, OPS), 60, 0.3, "three alerts", until=lambda a: len(a) == 3)
        assert {s: a["created_by"] for s, a in every.items()} == {
            "api": "alice",
            "empty_retrieval": "alice",
            "task_failure": None,
        }
        assert every["api"]["labels"] == {"host": "a"}  # the owner travels beside the labels
        assert set(_alerts(api, ALICE)) == {"api", "empty_retrieval"}
        assert _alerts(api, BOB) == {} and _alerts(api, BARE) == {}
        for source, alert in every.items():
            _refused(api, BOB, [("GET", f"/v1/alerts/{alert['id']}")])
            assert api.get(f"/v1/alerts/{alert['id']}", headers=_as(OPS)).status_code == 200
            expected = 404 if source == "task_failure" else 200
            assert api.get(f"/v1/alerts/{alert['id']}", headers=_as(ALICE)).status_code == expected


def test_with_isolation_off_every_key_shares_and_the_creator_is_still_recorded(
    worker_env: dict[str, str], start_gateway: Any
) -> None:
    with _start(worker_env, start_gateway, isolation=False) as api:
        assert api.post("/v1/sessions/shared/messages", json=TURN, headers=_as(ALICE)).status_code == 200
        assert api.post("/v1/sessions/shared/messages", json=TURN, headers=_as(BOB)).status_code == 200
        context = api.get("/v1/sessions/shared/context", headers=_as(BARE)).json()
        assert [m["seq"] for m in context["messages"]] == [1, 2]
        assert api.post("/v1/kbs/kb-shared/chunks", json=CHUNKS, headers=_as(BARE)).status_code == 200
        assert api.get("/v1/kbs/kb-shared", headers=_as(BOB)).json()["created_by"] == "anonymous"
        r = api.post("/v1/evaluations", json={"kb_id": "kb-shared", "sample_size": 2}, headers=_as(BOB))
        assert r.status_code == 202, r.text
        evaluation = api.get(f"/v1/evaluations/{r.json()['evaluation_id']}", headers=_as(ALICE)).json()
        assert evaluation["created_by"] == "bob"
        assert len(api.get("/v1/evaluations", headers=_as(ALICE)).json()["evaluations"]) == 1
        assert api.delete("/v1/sessions/shared", headers=_as(BOB)).json()["deleted"] is True


def test_bare_tokens_share_one_anonymous_owner(worker_env: dict[str, str], start_gateway: Any) -> None:
    other = "tok-bare-2-8Hn3v6"
    gateway = start_gateway(
        {**worker_env, "RAGTASKS_API_KEYS": f"{KEYS},{other}", "RAGTASKS_API_KEY_ISOLATION": "true"}
    )
    with gateway_client(gateway.port) as api:
        assert api.post("/v1/sessions/s-bare/messages", json=TURN, headers=_as(BARE)).status_code == 200
        assert api.post("/v1/sessions/s-bare/messages", json=TURN, headers=_as(other)).status_code == 200
        assert api.get("/v1/sessions/s-bare/context", headers=_as(ALICE)).status_code == 404
        assert api.get("/v1/sessions/s-bare/context", headers=_as(OPS)).status_code == 200


def _leak_paths(kb_id: str) -> list[tuple[str, str]]:
    """Every KB route that does not create the KB: it must answer alike for a missing KB."""
    return [(m, p) for m, p in _kb_paths(kb_id) if m != "PUT" and not p.endswith("/chunks")]


def test_another_keys_kb_answers_exactly_as_a_missing_one(worker_env: dict[str, str], start_gateway: Any) -> None:
    with _start(worker_env, start_gateway, isolation=True) as api:
        assert api.post("/v1/kbs/kb-alice/chunks", json=CHUNKS, headers=_as(ALICE)).status_code == 200
        for (method, taken), (_, free) in zip(_leak_paths("kb-alice"), _leak_paths("kb-nobody"), strict=True):
            a, b = _call(api, BOB, method, taken), _call(api, BOB, method, free)
            assert a.status_code == b.status_code == 404, (method, taken, a.text, b.text)
            assert a.json()["detail"].replace("kb-alice", "kb-nobody") == b.json()["detail"], (a.text, b.text)
        # A bad body is refused alike (before any lookup), a good one meets one 404 for both KBs.
        for body, expected in (({"sample_size": 10**9}, 422), ({"sample_size": 2}, 404)):
            a, b = (
                api.post("/v1/evaluations", json={**body, "kb_id": kb}, headers=_as(BOB)) for kb in ("kb-alice", "kb-x")
            )
            assert a.status_code == b.status_code == expected, (a.text, b.text)
            assert a.json()["detail"].replace("kb-alice", "kb-x") == b.json()["detail"]
        # What remains observable by design (docs/security.md): a write to a taken id is refused.
        assert api.put("/v1/kbs/kb-alice", json={"retriever": None}, headers=_as(BOB)).status_code == 404
        assert api.put("/v1/kbs/kb-free", json={"retriever": None}, headers=_as(BOB)).status_code == 200


def _alert_of(api: httpx.Client, token: str, fingerprint: str) -> dict[str, Any] | None:
    r = api.get("/v1/alerts", params={"limit": 500}, headers=_as(token))
    return next((a for a in r.json()["alerts"] if a["fingerprint"] == fingerprint), None)


def test_a_key_cannot_fire_or_resolve_another_keys_or_the_systems_alert(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, db: Any
) -> None:
    env = {**worker_env, "RAGTASKS_EMPTY_RETRIEVAL_THRESHOLD": "3", "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "1"}
    alerter = functools.partial(start_worker, "alerter", {**env, "RAGTASKS_API_KEYS": KEYS}, concurrency=1)
    with _start(env, start_gateway, isolation=True, alongside=alerter) as api:
        assert api.post("/v1/kbs/kb-alice/chunks", json=CHUNKS, headers=_as(ALICE)).status_code == 200
        events = [{"kb_id": "kb-alice", "query": f"退货 政策 {i}", "n_results": 0} for i in range(3)]
        r = api.post("/v1/retrieval-events", json={"events": events}, headers=_as(ALICE))
        assert r.json()["kbs"][0]["firing"] is True, r.text  # Alice sees her own KB's window
        am = {"alerts": [{"status": "firing", "labels": {"alertname": "磁盘"}, "fingerprint": "am-1"}]}
        assert api.post("/v1/alerts/alertmanager", json=am, headers=_as(ALICE)).status_code == 202
        system = wait_until(lambda: _alert_of(api, OPS, "empty_retrieval:kb-alice"), 60, 0.3, "the system alert")
        alice_am = wait_until(lambda: _alert_of(api, ALICE, "alice/alertmanager:am-1"), 60, 0.3, "Alice's alert")
        # Bob resolves and re-fires both fingerprints, by hand and through the webhook.
        for status_ in ("resolved", "firing"):
            for fingerprint in ("empty_retrieval:kb-alice", "recall-drop:kb-alice"):
                body = {"fingerprint": fingerprint, "status": status_, "title": "伪造", "labels": {"kb_id": "kb-alice"}}
                assert api.post("/v1/alerts", json=body, headers=_as(BOB)).status_code == 202
            am["alerts"][0]["status"] = status_
            assert api.post("/v1/alerts/alertmanager", json=am, headers=_as(BOB)).status_code == 202
        # Bob's last alert is processed after the others (one alerter process, in order).
        wait_until(lambda: _alert_of(api, BOB, "bob/alertmanager:am-1"), 60, 0.3, "Bob's alerts")
        assert _alert_of(api, BOB, "bob/empty_retrieval:kb-alice")["created_by"] == "bob"  # type: ignore[index]
        for before, token in ((system, OPS), (alice_am, ALICE)):
            after = _alert_of(api, token, before["fingerprint"])
            assert after is not None and after["status"] == "firing" and after["title"] == before["title"], after
            assert after["occurrences"] == before["occurrences"] and after["id"] == before["id"]
        assert db["alerts"].count_documents({"fingerprint": "recall-drop:kb-alice"}) == 0

        # The dead-letter listing starts from the caller's own alerts.
        note = {"_id": "n-dead", "state": "dead", "alert_ids": [alice_am["id"]], "channel": "wecom"}
        db["alert_notifications"].insert_one({**note, "updated_at": system["starts_at"]})
        dead = api.get("/v1/alerts", params={"status": "dead"}, headers=_as(ALICE)).json()["alerts"]
        assert [a["id"] for a in dead] == [alice_am["id"]]
        assert api.get("/v1/alerts", params={"status": "dead"}, headers=_as(BOB)).json()["alerts"] == []

        # Silences are administration: a listed admin only, and the silence records who made it.
        silence = {"matchers": ['kb_id="kb-alice"'], "ends_at": "2099-01-01T00:00:00Z", "comment": "维护窗口"}
        for method in ("GET", "POST"):
            for token in (ALICE, BARE):
                r = api.request(method, "/v1/silences", json=silence if method == "POST" else None, headers=_as(token))
                assert r.status_code == 403, (method, r.text)
        r = api.post("/v1/silences", json={**silence, "created_by": "alice"}, headers=_as(OPS))
        assert r.status_code == 201 and r.json()["created_by"] == "ops", r.text
