"""The beat schedule is configuration: nightly maintenance + evaluations at 02:00 local time."""

from __future__ import annotations

import pytest
from celery.schedules import crontab

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
