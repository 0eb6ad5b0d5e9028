"""What a delivery attempt's answer means: a 200 is not success; 45009, -1 and 93000."""

from __future__ import annotations

from typing import Any

import pytest

from ragtasks_alerter.policy import AttemptResult, classify_http, classify_wecom, decide

POLICY: dict[str, Any] = {"max_retries": 3, "base": 2.0, "cap": 10.0, "rate_limited_min": 60.0}


@pytest.mark.parametrize(
    ("http", "body", "kind"),
    [
        (200, {"errcode": 0, "errmsg": "ok"}, "sent"),
        (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "rate_limited"),
        (200, {"errcode": -1, "errmsg": "system busy"}, "transient"),
        (200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "permanent"),
        (200, {"errcode": 40058, "errmsg": "invalid parameter"}, "permanent"),
        (200, {"errmsg": "no errcode"}, "transient"),
        (200, "not json", "transient"),
        (502, None, "transient"),
        (429, None, "rate_limited"),
        (404, None, "permanent"),
    ],
)
def test_wecom_answers(http: int, body: object, kind: str) -> None:
    assert classify_wecom(http, body).kind == kind


def test_http_statuses() -> None:
    assert classify_http(204) == "sent"
    assert classify_http(503) == "transient"
    assert classify_http(401) == "permanent"


def test_rate_limited_waits_at_least_the_minimum_and_is_not_a_failure() -> None:
    decision = decide(AttemptResult("rate_limited", "45009"), failures_so_far=99, **POLICY)
    assert decision.action == "retry"
    assert decision.delay >= 60.0
    assert not decision.counts_as_failure


def test_busy_backs_off_then_gives_up_to_dead_letters() -> None:
    busy = AttemptResult("transient", "errcode -1")
    delays = [decide(busy, failures_so_far=n, **POLICY).delay for n in range(3)]
    assert delays == [2.0, 4.0, 8.0]
    assert decide(busy, failures_so_far=10, **POLICY).action == "dead"
    assert decide(busy, failures_so_far=3, **POLICY).action == "dead"


def test_capped_backoff() -> None:
    busy = AttemptResult("transient", "errcode -1")
    assert decide(busy, failures_so_far=2, max_retries=10, base=4, cap=10, rate_limited_min=1).delay == 10


def test_invalid_key_is_dead_at_once() -> None:
    decision = decide(AttemptResult("permanent", "errcode 93000"), failures_so_far=0, **POLICY)
    assert decision.action == "dead"
