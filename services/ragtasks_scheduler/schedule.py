"""The beat schedule is configuration: built from settings, publishing tasks by name."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings


def nightly_schedule(settings: Settings) -> crontab | float:
    """Daily at RAGTASKS_EVAL_NIGHTLY_HOUR:MINUTE; every RAGTASKS_EVAL_NIGHTLY_INTERVAL_SECONDS if set
    (tests and demos: the same entry, task and options, just sooner)."""
    if settings.eval_nightly_interval_seconds is not None:
        return settings.eval_nightly_interval_seconds
    return crontab(hour=settings.eval_nightly_hour, minute=settings.eval_nightly_minute)


# Retention runs at night (RAGTASKS_TIMEZONE), after the evaluator's 02:00 maintenance.
RETENTION_HOUR, RETENTION_MINUTE = 3, 30


def retention_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The nightly deletion of idle sessions, when RAGTASKS_SESSION_RETENTION_DAYS is set.

    Unset retention keeps everything, so there is no entry at all (rather than a daily no-op that
    would look like a deletion that ran). Beat publishes it to ``maintenance`` (``contract.TASK_ROUTES``:
    it is a scheduled task), which every worker consumes, so it runs with the summarizer disabled too.
    """
    if settings.session_retention_days is None:
        return {}
    return {
        "summarizer-retention": {
            "task": TaskName.DELETE_IDLE_SESSIONS.value,
            "schedule": crontab(hour=RETENTION_HOUR, minute=RETENTION_MINUTE),
            "kwargs": {},
            # Like the nightly evaluation: a run that could not start within 6 hours waits for the next night.
            "options": {"expires": 6 * 3600},
        }
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        **retention_schedule(settings),
        # The outbox: publish summaries that were wanted while the broker was away.
        "sweep-summary-outbox": {
            "task": TaskName.SWEEP_OUTBOX.value,
            "schedule": settings.outbox_sweep_interval_seconds,
            "kwargs": {},
            "options": {"expires": max(1.0, settings.outbox_sweep_interval_seconds * 0.9)},
        },
        # Evaluator: knowledge-base maintenance at 02:00 (in RAGTASKS_TIMEZONE: Celery's timezone).
        # The nightly task fans out one maintain_kb per KB; each KB in RAGTASKS_EVAL_KBS is
        # evaluated right after its own maintenance, so one bad KB does not skip the others.
        "evaluator-nightly": {
            "task": TaskName.NIGHTLY.value,
            "schedule": nightly_schedule(settings),
            "kwargs": {"kb_ids": list(settings.eval_kbs)},
            # A nightly that could not start within 6 hours is skipped; the next night runs anyway.
            "options": {"expires": 6 * 3600},
        },
        # Alerter: due groups, repeats, empty-retrieval rules that cleared, stuck deliveries.
        "alerter-flush": {
            "task": TaskName.FLUSH_ALERTS.value,
            "schedule": settings.alert_flush_interval_seconds,
            "kwargs": {},
            # A flush older than one interval is superseded by the next one.
            "options": {"expires": max(1.0, settings.alert_flush_interval_seconds)},
        },
    }
