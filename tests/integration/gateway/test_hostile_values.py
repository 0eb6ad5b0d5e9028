"""Well-formed JSON with hostile values, against a real uvicorn process: each is a 422 that names
the field, nothing reaches Mongo (no document, no outbox record), and the connection serves the
next request.

Labels Mongo cannot take as keys, datetimes that leave years 1..9999 once in UTC, a 40,000-space
matcher, text made only of zero-width characters, and '$'/'.' in nested metadata keys. Each of
these was a 500 (with the keep-alive connection dropped), a stalled event loop, or accepted poison.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from ragtasks_core.contract import TaskName
from tests.integration.helpers import auth, gateway_client
from tests.support.procs import Proc

Db = Database[dict[str, Any]]
HEADERS = {**auth(), "Content-Type": "application/json"}
OUT_OF_RANGE = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
ZERO_WIDTH = ["\u200b\u200c\u200d\ufeff", "\u2060", " \u200b\u3000"]


@pytest.fixture(scope="module")
def db(live_gateway: Proc) -> Iterator[Db]:
    env = live_gateway.extra["env"]
    assert isinstance(env, dict)
    client: MongoClient[dict[str, Any]]
    with MongoClient(env["RAGTASKS_MONGODB_URL"]) as client:
        yield client[env["RAGTASKS_MONGODB_DB"]]


@pytest.fixture
def client(live_gateway: Proc) -> Iterator[httpx.Client]:
    assert live_gateway.port is not None
    with gateway_client(live_gateway.port) as c:
        yield c


def refused(r: httpx.Response, field: str) -> str:
    """The 422's reason; it must name ``field`` in an error's location."""
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(field in err["loc"] and err["msg"] for err in errors), r.text
    return json.dumps(errors, ensure_ascii=False)


def alert_records(db: Db, title: str) -> int:
    """Alerts are published through the outbox: a record is what would reach the alerter."""
    return db.outbox.count_documents({"task": TaskName.RAISE_ALERT.value, "kwargs.title": title})


# --- D1: labels that break the alert's rules, on one keep-alive connection ------------------------

NO_DOLLAR_OR_DOT = "label names must not start with '$' or contain '.'"
BAD_LABELS = {
    "dot": ({"机房.A": "x"}, NO_DOLLAR_OR_DOT),
    "empty-name": ({"": "x"}, "at least 1 character"),
    "dollar": ({"$where": "x"}, NO_DOLLAR_OR_DOT),
    "long-value": ({"磁盘": "满" * 257}, "at most 256 characters"),
    "long-name": ({"k" * 65: "x"}, "at most 64 characters"),
    "too-many": ({f"标签{i}": "x" for i in range(33)}, "at most 32 items"),
}


def post_on(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    conn.request("POST", path, body=json.dumps(body).encode(), headers=HEADERS)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize("case", BAD_LABELS)
def test_bad_label_is_422_and_the_connection_serves_the_next_alert(live_gateway: Proc, db: Db, case: str) -> None:
    assert live_gateway.port is not None
    labels, reason = BAD_LABELS[case]
    title = f"磁盘告警 {case}"
    conn = http.client.HTTPConnection("127.0.0.1", live_gateway.port, timeout=30)
    conn.auto_open = 0  # a connection the server dropped must fail the next request, not be reopened
    conn.connect()
    try:
        status, body = post_on(conn, "/v1/alerts", {"title": title, "labels": labels})
        assert status == 422, body
        assert any("labels" in err["loc"] for err in body["detail"]), body
        assert reason in json.dumps(body, ensure_ascii=False), body
        status, body = post_on(conn, "/v1/alerts", {"title": f"{title} ok", "labels": {"机房": "A"}})
        assert status == 202, body
    finally:
        conn.close()
    assert alert_records(db, title) == 0
    assert alert_records(db, f"{title} ok") == 1
    assert live_gateway.alive()


def test_the_openapi_schema_states_the_label_rules(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["AlertIn"]["properties"]
    labels = schema["labels"]
    assert labels["maxProperties"] == 32 and labels["additionalProperties"]["maxLength"] == 256
    assert labels["propertyNames"]["maxLength"] == 64 and labels["propertyNames"]["minLength"] == 1
    assert schema["title"]["maxLength"] == 256


# --- D2: datetimes beyond years 1..9999 in UTC ------------------------------------------------------


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_silence_time_out_of_range_is_422(client: httpx.Client, db: Db, when: str, field: str) -> None:
    comment = f"维护窗口 {field} {when}"
    body = {"matchers": ['kb="知识库1"'], "ends_at": "2099-01-01T00:00:00+08:00", "comment": comment, field: when}
    reason = refused(client.post("/v1/silences", json=body, headers=auth()), field)
    assert "9999" in reason
    assert db.silences.count_documents({"comment": comment}) == 0


def test_silence_in_range_is_stored_in_utc(client: httpx.Client, db: Db) -> None:
    body = {"matchers": ['kb="知识库1"'], "ends_at": "2099-01-01T08:00:00+08:00", "comment": "升级 RAG 服务"}
    r = client.post("/v1/silences", json=body, headers=auth())
    assert r.status_code == 201, r.text
    assert r.json()["ends_at"].startswith("2099-01-01T00:00:00")
    assert db.silences.count_documents({"comment": "升级 RAG 服务"}) == 1


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_merges_since_out_of_range_is_422(client: httpx.Client, when: str) -> None:
    r = client.get("/v1/kbs/kb1/merges", params={"since": when}, headers=auth())
    assert "9999" in refused(r, "since")


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_alert_time_out_of_range_is_422_and_never_reaches_the_alerter(
    client: httpx.Client, db: Db, when: str, field: str
) -> None:
    title = f"磁盘告警 {field} {when}"
    refused(client.post("/v1/alerts", json={"title": title, field: when}, headers=auth()), field)
    assert alert_records(db, title) == 0


def test_alert_time_without_zone_is_utc(client: httpx.Client, db: Db) -> None:
    title = "磁盘告警 naive"
    r = client.post("/v1/alerts", json={"title": title, "starts_at": "2026-01-01T08:00:00"}, headers=auth())
    assert r.status_code == 202, r.text
    (record,) = db.outbox.find({"kwargs.title": title})
    assert record["kwargs"]["starts_at"] == "2026-01-01T08:00:00Z"


def test_alertmanager_alert_out_of_range_is_skipped_alone(client: httpx.Client, db: Db) -> None:
    def am(name: str, starts_at: str) -> dict[str, Any]:
        annotations = {"summary": f"{name} 告警"}
        return {"status": "firing", "labels": {"alertname": name}, "annotations": annotations, "startsAt": starts_at}

    batch = {"version": "4", "alerts": [am("越界", OUT_OF_RANGE[0]), am("正常", "2026-01-01T00:00:00Z")]}
    r = client.post("/v1/alerts/alertmanager", json=batch, headers=auth())
    assert r.status_code == 202, r.text
    (skipped,) = r.json()["skipped"]
    assert skipped["index"] == 0 and "starts_at" in skipped["reason"], r.text
    assert alert_records(db, "越界 告警") == 0 and alert_records(db, "正常 告警") == 1


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_retrieval_event_time_out_of_range_is_422(client: httpx.Client, when: str) -> None:
    event = {"kb_id": "kb1", "query": "退款流程", "n_results": 1, "ts": when}
    refused(client.post("/v1/retrieval-events", json={"events": [event]}, headers=auth()), "ts")


# --- D3: a matcher's length is bounded before the parser sees it -----------------------------------


def test_a_40000_space_matcher_is_refused_at_once(client: httpx.Client, db: Db) -> None:
    body = {"matchers": ['kb="' + " " * 40_000 + '"'], "ends_at": "2099-01-01T00:00:00Z", "comment": "巨型匹配器"}
    started = time.monotonic()
    r = client.post("/v1/silences", json=body, headers=auth())
    elapsed = time.monotonic() - started
    assert "1024" in refused(r, "matchers")
    assert elapsed < 2.0, f"answered after {elapsed:.1f} s"  # 12 s before; generous for a busy machine
    assert db.silences.count_documents({"comment": "巨型匹配器"}) == 0


# --- Z1: text made only of invisible characters is blank ------------------------------------------


@pytest.mark.parametrize("blank", ZERO_WIDTH)
def test_invisible_message_is_422(client: httpx.Client, db: Db, blank: str) -> None:
    session = f"s-blank-{len(blank)}-{ord(blank[0]):x}"
    body = {"messages": [{"role": "user", "content": blank}]}
    assert "blank" in refused(client.post(f"/v1/sessions/{session}/messages", json=body, headers=auth()), "content")
    assert db.messages.count_documents({"session_id": session}) == 0
    assert db.sessions.count_documents({"_id": session}) == 0


@pytest.mark.parametrize("blank", ZERO_WIDTH)
def test_invisible_chunk_text_and_query_are_422(client: httpx.Client, db: Db, blank: str) -> None:
    chunks = {"chunks": [{"chunk_id": "c-blank", "text": blank}]}
    assert "blank" in refused(client.post("/v1/kbs/kb-blank/chunks", json=chunks, headers=auth()), "text")
    query = {"query": blank, "relevant": {"c1": 1}}
    assert "blank" in refused(client.post("/v1/kbs/kb-blank/queries", json=query, headers=auth()), "query")
    assert db.kb_chunks.count_documents({"kb_id": "kb-blank"}) == 0
    assert db.kb_queries.count_documents({"kb_id": "kb-blank"}) == 0


@pytest.mark.parametrize("blank", ZERO_WIDTH)
def test_invisible_alert_title_is_422(client: httpx.Client, db: Db, blank: str) -> None:
    assert "blank" in refused(client.post("/v1/alerts", json={"title": blank}, headers=auth()), "title")
    assert alert_records(db, blank) == 0


def test_visible_text_between_zero_width_characters_is_kept(client: httpx.Client, db: Db) -> None:
    body = {"messages": [{"role": "user", "content": "\u200b退款 refund\u200b"}]}
    r = client.post("/v1/sessions/s-visible/messages", json=body, headers=auth())
    assert r.status_code == 200, r.text
    assert db.messages.count_documents({"session_id": "s-visible"}) == 1


# --- Z2: '$' and '.' in metadata keys at any depth -------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [{"来源": {"$set": 1}}, {"来源": {"b.c": 2}}, {"来源": [{"页": {"$where": "x"}}]}],
    ids=["nested-dollar", "nested-dot", "in-a-list"],
)
def test_nested_metadata_key_is_422(client: httpx.Client, db: Db, metadata: dict[str, Any]) -> None:
    chunks = {"chunks": [{"chunk_id": "c-meta", "text": "退货政策：七天无理由", "metadata": metadata}]}
    reason = refused(client.post("/v1/kbs/kb-meta/chunks", json=chunks, headers=auth()), "metadata")
    assert "metadata keys must not start with '$' or contain '.'" in reason
    assert db.kb_chunks.count_documents({"kb_id": "kb-meta"}) == 0


def test_nested_metadata_with_plain_keys_is_stored(client: httpx.Client, db: Db) -> None:
    metadata = {"来源": {"文档": "退货政策.pdf", "页": [{"行": 3}]}}
    chunks = {"chunks": [{"chunk_id": "c-plain", "text": "退货政策：七天无理由", "metadata": metadata}]}
    r = client.post("/v1/kbs/kb-plain/chunks", json=chunks, headers=auth())
    assert r.status_code == 200, r.text
    assert db.kb_chunks.count_documents({"kb_id": "kb-plain"}) == 1
