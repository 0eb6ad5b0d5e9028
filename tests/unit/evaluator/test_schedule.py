"""The beat schedule is configuration: nightly maintenance + evaluations at 02:00 local time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery.schedules import crontab
from celery.utils.time import ffwd

from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_scheduler.schedule import beat_schedule


def test_nightly_entry_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_EVAL_KBS", "docs, faq")
    entry = beat_schedule(Settings())["evaluator-nightly"]
    assert entry["task"] == TaskName.NIGHTLY.value
    assert entry["kwargs"] == {"kb_ids": ["docs", "faq"]}
    assert entry["schedule"] == crontab(hour=2, minute=0)
    monkeypatch.setenv("RAGTASKS_EVAL_NIGHTLY_HOUR", "3")
    assert beat_schedule(Settings())["evaluator-nightly"]["schedule"] == crontab(hour=3, minute=0)


def _next_nightly_utc(last_run_utc: datetime) -> tuple[str, datetime]:
    """The Celery app's timezone and the next nightly run after ``last_run_utc``, as beat computes it."""
    settings = Settings()
    app = create_celery(settings)
    try:
        schedule = beat_schedule(settings)["evaluator-nightly"]["schedule"]
        schedule.app = app  # what beat does with every entry (maybe_schedule(..., app=app))
        start, delta, _now = schedule.remaining_delta(last_run_utc, ffwd=ffwd)
        return str(app.conf.timezone), (start + delta).astimezone(UTC)
    finally:
        app.close()


def test_timezone_defaults_to_shanghai_and_the_crontab_runs_at_2_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGTASKS_TIMEZONE", raising=False)
    assert Settings().timezone == "Asia/Shanghai"
    # 2024-01-10 00:30 UTC is 08:30 in Shanghai: the next 02:00 there is 2024-01-10 18:00 UTC.
    tz, at = _next_nightly_utc(datetime(2024, 1, 10, 0, 30, tzinfo=UTC))
    assert tz == "Asia/Shanghai"
    assert at == datetime(2024, 1, 10, 18, 0, tzinfo=UTC)


def test_celery_timezone_and_the_nightly_crontab_follow_ragtasks_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGTASKS_TIMEZONE", "America/New_York")
    # 2024-07-10 00:30 UTC is 20:30 on the 9th in New York (EDT, UTC-4): next 02:00 there is 06:00 UTC.
    tz, at = _next_nightly_utc(datetime(2024, 7, 10, 0, 30, tzinfo=UTC))
    assert tz == "America/New_York"
    assert at == datetime(2024, 7, 10, 6, 0, tzinfo=UTC)
