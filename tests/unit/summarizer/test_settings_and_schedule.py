"""The issue-12 settings and the nightly retention entry of the beat schedule."""

from __future__ import annotations

import pytest
from celery.schedules import crontab
from pydantic import ValidationError

from ragtasks_core.contract import TaskName
from ragtasks_core.prompt_budget import prompt_limit
from ragtasks_core.settings import Settings
from ragtasks_scheduler.schedule import beat_schedule
from ragtasks_summarizer import wiring


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.llm_context_tokens == 16_000
    assert settings.summary_trigger_messages is None and settings.summary_keep_recent_tokens is None
    assert settings.summary_prompt_file is None and settings.session_retention_days is None
    assert "summarizer-retention" not in beat_schedule(settings)  # unset: keep everything


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "RAGTASKS_LLM_CONTEXT_TOKENS": "4096",
        "RAGTASKS_SUMMARY_TRIGGER_MESSAGES": "40",
        "RAGTASKS_SUMMARY_KEEP_RECENT_TOKENS": "1500",
        "RAGTASKS_SESSION_RETENTION_DAYS": "30",
        "RAGTASKS_SUMMARY_PROMPT_FILE": "",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.llm_context_tokens, settings.summary_trigger_messages) == (4096, 40)
    assert (settings.summary_keep_recent_tokens, settings.session_retention_days) == (1500, 30)
    assert settings.summary_prompt_file is None
    entry = beat_schedule(settings)["summarizer-retention"]
    assert entry["task"] == TaskName.DELETE_IDLE_SESSIONS.value
    assert entry["schedule"] == crontab(hour=3, minute=30)
    policy = wiring.policy_of(settings)
    assert (policy.trigger_messages, policy.keep_recent_tokens) == (40, 1500)
    assert wiring.fold_config(settings).prompt_limit == prompt_limit(4096, settings.summary_max_tokens)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RAGTASKS_LLM_CONTEXT_TOKENS", "100"),
        ("RAGTASKS_SESSION_RETENTION_DAYS", "0"),
        ("RAGTASKS_SUMMARY_TRIGGER_MESSAGES", "-1"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_step_deadline_leaves_one_call_of_room_before_the_soft_limit() -> None:
    settings = Settings(task_soft_time_limit_seconds=600, task_time_limit_seconds=660)
    assert wiring.step_deadline(settings, 1000.0) == 1000.0 + 300  # half the soft limit
    short = Settings(
        task_soft_time_limit_seconds=20,
        task_time_limit_seconds=40,
        llm_timeout_seconds=15,
        llm_rate_limit_max_wait_seconds=0,
    )
    assert wiring.step_deadline(short, 1000.0) == 1000.0  # no room: one step, then re-queue
