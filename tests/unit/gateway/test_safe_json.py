"""The one rule for JSON values (``contract.safe_json``), and that every entry point applies it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import ValidationError

from ragtasks_core.contract import safe_json
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.contract.registry import payload_models
from ragtasks_core.settings import Settings
from ragtasks_gateway import limits
from ragtasks_gateway.alerts_alertmanager import convert
from ragtasks_gateway.routes import ROUTERS
from ragtasks_gateway.safe_body import ItemsJsonRoute, SafeJsonRoute, lenient_loads


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "path", "problem"),
    [
        (float("nan"), "(root)", "finite"),
        ({"a": [1, float("inf")]}, "a[1]", "finite"),
        ({"a": -float("inf")}, "a", "finite"),
        ({"n": 2**63}, "n", "64-bit"),
        ({"n": -(2**63) - 1}, "n", "64-bit"),
        ({"s": "ok\ud800"}, "s", "surrogate"),
        ({"s": "a\udfffb"}, "s", "surrogate"),
        ({"s": "a\x00b"}, "s", "NUL"),
        ({"m": {"k\x00": 1}}, "m", "NUL"),
        ({"m": {"\ud800": 1}}, "m", "surrogate"),
        (deep(33), "a." * 31 + "a", "nested"),
    ],
)
def test_refused(value: Any, path: str, problem: str) -> None:
    with pytest.raises(safe_json.UnsafeJson) as info:
        safe_json.check(value)
    assert info.value.path == path and problem in info.value.problem


@pytest.mark.parametrize(
    "value",
    [{"n": 2**63 - 1, "m": -(2**63)}, {"f": 1e308, "b": True}, {"s": "中文 😀 \t\n"}, deep(32), [], None, "x"],
)
def test_accepted(value: Any) -> None:
    safe_json.check(value)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e400}', "finite"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b"[" * 50_000 + b"]" * 50_000, "nested"),
        (b'{"a": "\xff"}', "UTF-8"),
    ],
)
def test_loads_refuses_with_a_decode_error(raw: bytes, problem: str) -> None:
    # A JSONDecodeError is what FastAPI turns into 422 (any other exception would be a 400 or 500).
    with pytest.raises(json.JSONDecodeError) as info:
        safe_json.loads(raw)
    assert problem in info.value.msg


def test_loads_keeps_valid_json() -> None:
    assert safe_json.loads('{"a": [1, 2.5, "中文\\ud83d\\ude00"]}'.encode()) == {"a": [1, 2.5, "中文😀"]}


def test_lenient_loads_only_bounds_nesting() -> None:
    assert lenient_loads(b'{"a": NaN, "b": "\\ud800"}')["b"] == "\ud800"
    with pytest.raises(json.JSONDecodeError):
        lenient_loads(json.dumps(deep(40)).encode())


def test_every_payload_model_applies_the_rule() -> None:
    for task, model in payload_models().items():
        assert issubclass(model, safe_json.SafeModel), task
    with pytest.raises(ValidationError, match="surrogate"):
        RaiseAlert(fingerprint="f", severity="info", title="\ud800", body="", labels={}, source="api")
    with pytest.raises(ValidationError, match="NUL"):
        RaiseAlert(fingerprint="f", severity="info", title="t", body="", labels={"a\x00": "b"}, source="api")


def test_every_route_parses_bodies_by_the_rule() -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert routes and all(isinstance(r, SafeJsonRoute) for r in routes)
    lenient = {r.path for r in routes if isinstance(r, ItemsJsonRoute)}
    assert lenient == {"/v1/alerts/alertmanager"}  # it applies the rule alert by alert instead


def test_alertmanager_batch_skips_only_the_bad_alert() -> None:
    good = {"status": "firing", "labels": {"alertname": "A"}, "annotations": {"summary": "fine"}}
    bad = {"status": "firing", "labels": {"alertname": "B"}, "annotations": {"summary": "\ud800"}, "fingerprint": "fb"}
    alerts, skipped = convert([good, bad, {"status": "maybe"}, "not an object"])
    assert [a.title for a in alerts] == ["fine"]
    assert [(s.index, s.fingerprint) for s in skipped] == [(1, "fb"), (2, None), (3, None)]
    assert "surrogate" in skipped[0].reason and "status" in skipped[1].reason


def test_text_budgets_fit_the_byte_limit() -> None:
    settings = Settings()
    events = settings.max_retrieval_events_per_request
    for budget, items, overhead in (
        (limits.message_chars(settings), settings.max_messages_per_request, limits.MESSAGE_OVERHEAD_BYTES),
        (limits.chunk_chars(settings), settings.kb_max_chunks_per_request, limits.CHUNK_OVERHEAD_BYTES),
        (limits.query_chars(settings), events, limits.RETRIEVAL_EVENT_OVERHEAD_BYTES),
    ):
        worst = budget * limits.UTF8_MAX_BYTES_PER_CHAR + items * overhead + limits.ENVELOPE_BYTES
        assert 0 < worst <= settings.max_request_bytes
    # The old per-request maximum (100 x 32,000 characters) no longer passes.
    assert limits.message_chars(settings) < 100 * 32_000
