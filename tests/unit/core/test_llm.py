"""The LLM boundary: error classification, backoff, Retry-After (pure, no network)."""

from __future__ import annotations

import email.utils

import httpx2 as httpx  # the HTTP client the openai package is built on
import openai
import pytest

from ragtasks_core.llm import PermanentLLMError, TransientLLMError, backoff_delay, classify, parse_retry_after
from ragtasks_core.llm_policy import broker_countdown

REQUEST = httpx.Request("POST", "http://llm.invalid/v1/chat/completions")


def status_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx.Response(status, headers=headers or {}, json={"error": {"message": "x"}}, request=REQUEST)
    classes = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
    }
    cls = classes.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return cls("scripted", response=response, body=None)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_transient_statuses(status: int) -> None:
    error = classify(status_error(status))
    assert isinstance(error, TransientLLMError)
    assert error.outcome == ("rate_limited" if status == 429 else "server_error")
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_statuses(status: int) -> None:
    error = classify(status_error(status))
    assert isinstance(error, PermanentLLMError)
    assert f"HTTP {status}" in str(error)


def test_retry_after_is_read_from_the_response() -> None:
    error = classify(status_error(429, {"Retry-After": "7"}))
    assert isinstance(error, TransientLLMError) and error.retry_after == 7.0


def test_timeouts_and_connection_errors_are_transient() -> None:
    timeout = classify(openai.APITimeoutError(request=REQUEST))
    assert isinstance(timeout, TransientLLMError) and timeout.outcome == "timeout"
    conn = classify(openai.APIConnectionError(request=REQUEST))
    assert isinstance(conn, TransientLLMError) and conn.outcome == "connection_error"


def test_unknown_errors_are_permanent() -> None:
    assert isinstance(classify(ValueError("boom")), PermanentLLMError)


def test_transient_error_can_be_rebuilt_from_its_message() -> None:
    # Celery's JSON result backend restores an exception as ``cls(*args)``.
    rebuilt = TransientLLMError(*TransientLLMError("LLM HTTP 503: x", outcome="server_error").args)
    assert str(rebuilt) == "LLM HTTP 503: x"


def test_backoff_schedule() -> None:
    assert [backoff_delay(n, base=2, cap=600) for n in range(5)] == [2, 4, 8, 16, 32]
    assert backoff_delay(10, base=2, cap=600) == 600


def test_backoff_honours_longer_retry_after_only() -> None:
    assert backoff_delay(0, base=2, cap=600, retry_after=5) == 5
    assert backoff_delay(3, base=2, cap=600, retry_after=5) == 16
    assert backoff_delay(0, base=2, cap=60, retry_after=3600) == 60


def test_parse_retry_after_seconds() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_broker_countdown_rounds_up_to_whole_seconds() -> None:
    # Native delayed delivery truncates with int(); 0 < countdown < 1 would raise in retry().
    assert broker_countdown(0.2) == 1
    assert broker_countdown(0) == 1
    assert broker_countdown(2.0) == 2
    assert broker_countdown(4.01) == 5
