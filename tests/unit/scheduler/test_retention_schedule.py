"""Retention is in beat's schedule: daily, on the maintenance queue, only when it is set."""

from __future__ import annotations

from datetime import UTC, datetime

from celery.schedules import crontab
from celery.utils.time import ffwd

from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import MAINTENANCE_QUEUE, PERIODIC_TASKS, SCHEDULED_TASKS, TaskName
from ragtasks_core.contract.common import Payload
from ragtasks_core.settings import Settings
from ragtasks_scheduler.schedule import beat_schedule

ENTRY = "summarizer-retention"


def test_unset_retention_schedules_nothing() -> None:
    schedule = beat_schedule(Settings())
    assert ENTRY not in schedule
    assert TaskName.DELETE_IDLE_SESSIONS.value not in {entry["task"] for entry in schedule.values()}


def test_set_retention_runs_daily_at_half_past_three_with_a_valid_payload() -> None:
    entry = beat_schedule(Settings(session_retention_days=30))[ENTRY]
    assert entry["task"] == TaskName.DELETE_IDLE_SESSIONS.value
    assert entry["schedule"] == crontab(hour=3, minute=30)
    Payload.model_validate(entry["kwargs"])  # what the task parses first
    assert 0 < entry["options"]["expires"] < 24 * 3600  # a missed night never piles up runs


def test_beat_publishes_it_to_the_maintenance_queue() -> None:
    settings = Settings(session_retention_days=30)
    app = create_celery(settings)
    try:
        task = beat_schedule(settings)[ENTRY]["task"]
        assert task in SCHEDULED_TASKS
        # Optional, so not watched for a missing success (that alert would fire without retention).
        assert task not in PERIODIC_TASKS
        # The router beat's send_task uses: every worker consumes this queue.
        assert app.amqp.router.route({}, task)["queue"].name == MAINTENANCE_QUEUE
    finally:
        app.close()


def test_it_runs_once_a_day_in_the_configured_time_zone() -> None:
    settings = Settings(session_retention_days=7)
    app = create_celery(settings)
    try:
        schedule = beat_schedule(settings)[ENTRY]["schedule"]
        schedule.app = app  # what beat does with every entry
        last = datetime(2026, 1, 1, 19, 30, tzinfo=UTC)  # 03:30 on Jan 2 in Shanghai
        start, delta, _ = schedule.remaining_delta(last, ffwd=ffwd)
        assert (start + delta).astimezone(UTC) == datetime(2026, 1, 2, 19, 30, tzinfo=UTC)
    finally:
        app.close()
