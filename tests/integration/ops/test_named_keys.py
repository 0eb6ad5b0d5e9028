"""Named keys with scopes (issue 15), through the real app on the real Mongo and broker.

``RAGTASKS_API_KEYS`` entries ``NAME:TOKEN[:SCOPES]``: a key without the scope a route needs gets
403; the key's name (never its token) labels ``ragtasks_http_requests_total{caller}`` and the
request's log line; unauthenticated requests are ``anonymous``. ``RAGTASKS_DOCS_ENABLED`` turns
the OpenAPI pages off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.support.procs import metric_value

READER, WRITER, ADMIN, BARE = "reader-token-7Qp2", "writer-token-9Lm4", "admin-token-3Xk8", "bare-token-5Rt1"
KEYS = f"reader:{READER}:read,ingest:{WRITER}:write,ops:{ADMIN}:read+write+admin,{BARE}"
TURN = {"messages": [{"role": "user", "content": "hello there"}]}


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_scopes_decide_what_a_key_may_do(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS)
    r = client.post("/v1/sessions/scoped/messages", json=TURN, headers=_as(READER))
    assert r.status_code == 403 and "'reader'" in r.json()["detail"] and "write" in r.json()["detail"], r.text
    assert READER not in r.text
    assert client.post("/v1/sessions/scoped/messages", json=TURN, headers=_as(WRITER)).status_code == 200
    assert client.get("/v1/sessions/scoped/context", headers=_as(READER)).status_code == 200
    assert client.get("/v1/sessions/scoped/context", headers=_as(WRITER)).status_code == 403
    # Redelivery is administration: write is not enough; admin passes auth (the alert is unknown: 404).
    assert client.post("/v1/alerts/unknown-alert/redeliver", headers=_as(WRITER)).status_code == 403
    assert client.post("/v1/alerts/unknown-alert/redeliver", headers=_as(ADMIN)).status_code == 404
    # A bare token keeps every right it had before scopes existed.
    assert client.post("/v1/alerts/unknown-alert/redeliver", headers=_as(BARE)).status_code == 404
    assert client.post("/v1/sessions/scoped/messages", json=TURN, headers=_as(BARE)).status_code == 200
    assert client.get("/v1/sessions/scoped/context", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_caller_is_named_in_metrics_and_logs(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(api_keys=KEYS)
    with caplog.at_level(logging.INFO, logger="ragtasks_gateway.app"):
        assert client.post("/v1/sessions/named/messages", json=TURN, headers=_as(WRITER)).status_code == 200
        assert client.post("/v1/sessions/named/messages", json=TURN, headers=_as(BARE)).status_code == 200
        assert client.get("/v1/sessions/named/context", headers={"Authorization": "Bearer nope"}).status_code == 401
    metrics = client.get("/metrics").text
    name, route = "ragtasks_http_requests_total", "/v1/sessions/{session_id}/messages"
    for caller in ("ingest", "key-4"):  # a named key, and a bare token by its position
        labels = {"method": "POST", "route": route, "status": "200", "caller": caller}
        assert metric_value(metrics, name, labels) >= 1, metrics  # the counters are per process
    assert metric_value(metrics, name, {"status": "401", "caller": "anonymous"}) >= 1
    lines = [r for r in caplog.records if getattr(r, "caller", None)]
    assert {r.caller for r in lines} >= {"ingest", "key-4", "anonymous"}  # type: ignore[attr-defined]
    text = metrics + "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for token in (WRITER, BARE):
        assert token not in text


def test_docs_can_be_turned_off(make_client: Callable[..., TestClient]) -> None:
    on = make_client()
    assert on.get("/openapi.json").status_code == 200 and on.get("/docs").status_code == 200
    off = make_client(docs_enabled=False)
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert off.get(path).status_code == 404, path
    assert off.get("/healthz").status_code == 200
