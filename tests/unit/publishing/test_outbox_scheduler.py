"""Beat runs get deterministic ids: the same due time gives the same id (no double after restart)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from celery.beat import ScheduleEntry
from celery.schedules import crontab, schedule

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_scheduler.outbox_scheduler import due_time, run_id
from ragtasks_scheduler.schedule import beat_schedule


def _entry(app: Celery, sched: object, last: datetime) -> ScheduleEntry:
    return ScheduleEntry(
        name="eval nightly", task="ragtasks.evaluator.nightly", schedule=sched, last_run_at=last, app=app
    )


def test_interval_due_time_is_last_run_plus_step_whenever_beat_looks() -> None:
    app = Celery("x", broker="amqp://127.0.0.1:5672//", set_as_current=False)
    last = datetime.fromtimestamp(int(time.time()) - 95, UTC)
    entry = _entry(app, schedule(timedelta(seconds=60), app=app), last)
    first = due_time(entry)
    time.sleep(0.3)
    assert due_time(entry) == first == last + timedelta(seconds=60)
    assert run_id(entry.name, first) == f"beat:eval-nightly:{int(first.timestamp())}"


def test_crontab_due_time() -> None:
    app = Celery("x", broker="amqp://127.0.0.1:5672//", set_as_current=False, timezone="UTC")
    last = datetime.fromtimestamp(int(time.time()) // 60 * 60 - 300, UTC)
    entry = _entry(app, crontab(minute="*", app=app), last)
    assert due_time(entry) == last + timedelta(minutes=1)


def test_the_nightly_entry_runs_on_an_interval_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """RAGTASKS_EVAL_NIGHTLY_INTERVAL_SECONDS (tests, demos): the same entry, sooner."""
    monkeypatch.setenv("RAGTASKS_EVAL_NIGHTLY_INTERVAL_SECONDS", "3")
    entry = beat_schedule(Settings())["evaluator-nightly"]
    assert entry["schedule"] == 3.0 and entry["task"] == TaskName.NIGHTLY.value
    assert entry["options"] == {"expires": 6 * 3600}
    monkeypatch.delenv("RAGTASKS_EVAL_NIGHTLY_INTERVAL_SECONDS")
    assert beat_schedule(Settings())["evaluator-nightly"]["schedule"] == crontab(hour=2, minute=0)
