"""A far-future eta (or countdown) is dead-lettered at once, and our own retry delays fit the limit.

Without the check the worker holds such a message unacked until the broker's consumer timeout closes
its channel, gets it again, and so on until the delivery limit: the work is stuck for hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured
from celery.utils.time import maybe_make_aware

from ragtasks_core import runtime
from ragtasks_core.consumer import DeadLetteringConsumer, refusal_reason, retry_delay_problem
from ragtasks_core.settings import Settings
from tests.unit.publishing.test_dlq_reasons import PING, _Handler, _message

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMIT = 3600.0


def _eta_reason(eta: Any, **kwargs: Any) -> str | None:
    return refusal_reason(_message(eta=eta), max_eta_seconds=LIMIT, now=NOW, **kwargs)


def test_an_eta_beyond_the_limit_is_refused_with_its_distance_and_the_setting() -> None:
    reason = _eta_reason((NOW + timedelta(hours=2)).isoformat()) or ""
    assert reason.startswith("eta '2026-01-01T14:00:00+00:00' is 7200 s ahead"), reason
    assert "RAGTASKS_MAX_ETA_SECONDS=3600" in reason and "consumer timeout" in reason


@pytest.mark.parametrize(
    "eta",
    [
        None,
        (NOW + timedelta(seconds=LIMIT)).isoformat(),  # exactly the limit is still accepted
        (NOW + timedelta(minutes=10)).isoformat(),
        (NOW - timedelta(days=3)).isoformat(),  # overdue: runs at once
        NOW + timedelta(minutes=59),  # an AMQP timestamp
    ],
)
def test_an_eta_within_the_limit_or_past_is_accepted(eta: Any) -> None:
    assert _eta_reason(eta) is None


def test_a_naive_eta_is_read_as_utc_as_celerys_worker_reads_it() -> None:
    # Celery's Request makes a naive eta aware as UTC (maybe_make_aware, naive_as_utc=True) even
    # with timezone=Asia/Shanghai: 12:30 naive is half an hour ahead, 20:30 is eight and a half.
    assert _eta_reason("2026-01-01T12:30:00") is None
    assert _eta_reason("2026-01-01T20:30:00") is not None
    app = Celery("t", set_as_current=False, timezone="Asia/Shanghai")
    assert maybe_make_aware(datetime(2026, 1, 1, 12, 30), app.timezone) == NOW + timedelta(minutes=30)


def test_without_a_limit_nothing_is_refused_for_its_eta() -> None:
    assert refusal_reason(_message(eta="2099-01-01T00:00:00+00:00")) is None


def test_a_countdown_is_an_eta_on_the_wire() -> None:
    app = Celery("t", set_as_current=False)
    for countdown, refused in ((600, False), (7200, True)):
        sent = app.amqp.as_task_v2("c-1", PING, kwargs={"v": 1}, countdown=countdown)
        reason = refusal_reason(_message(**sent.headers), max_eta_seconds=LIMIT)
        assert (reason is not None) is refused, (countdown, reason)


def test_the_consumer_dead_letters_a_far_eta_before_celery_sees_it() -> None:
    reached: list[Any] = []
    handler = _Handler(lambda message, *_: reached.append(message), max_eta_seconds=LIMIT)
    far = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    handler.create_task_handler()(_message(eta=far))
    assert reached == [] and handler.refused[0].startswith(f"eta {far!r} is ")
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    handler.create_task_handler()(_message(eta=soon))
    assert len(reached) == 1 and len(handler.refused) == 1  # Celery schedules it


def test_our_default_retry_delays_fit_the_default_limit() -> None:
    settings = Settings()
    assert settings.max_eta_seconds == 3600
    assert retry_delay_problem(settings) is None  # 600 (LLM), 300 (alert), 60 (WeCom 45009)


def test_a_backoff_longer_than_the_limit_is_named() -> None:
    problem = retry_delay_problem(Settings(max_eta_seconds=120)) or ""
    assert "RAGTASKS_LLM_BACKOFF_MAX_SECONDS=600" in problem and "RAGTASKS_ALERT_RETRY_MAX_SECONDS=300" in problem
    assert "WECOM" not in problem and "RAGTASKS_MAX_ETA_SECONDS=120" in problem
    assert "RAGTASKS_LLM_BACKOFF_MAX_SECONDS=7200" in (
        retry_delay_problem(Settings(llm_backoff_max_seconds=7200)) or ""
    )


def test_a_worker_refuses_to_start_with_such_a_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The consumer is built when the worker starts: it raises before Celery's own set-up.
    monkeypatch.setattr(runtime, "_settings", Settings(llm_backoff_max_seconds=7200))
    with pytest.raises(ImproperlyConfigured, match="RAGTASKS_LLM_BACKOFF_MAX_SECONDS=7200 exceeds"):
        DeadLetteringConsumer()
