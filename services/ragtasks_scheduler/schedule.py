"""The beat schedule is configuration: built from settings, publishing tasks by name."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        # The outbox: publish summaries that were wanted while the broker was away.
        "sweep-summary-outbox": {
            "task": TaskName.SWEEP_OUTBOX.value,
            "schedule": settings.outbox_sweep_interval_seconds,
            "kwargs": {},
            "options": {"expires": max(1.0, settings.outbox_sweep_interval_seconds * 0.9)},
        },
        # Evaluator: knowledge-base maintenance at 02:00 (in RAGTASKS_TIMEZONE: Celery's timezone),
        # then a recall evaluation of each KB in RAGTASKS_EVAL_KBS -- one task does both, in order.
        "evaluator-nightly": {
            "task": TaskName.NIGHTLY.value,
            "schedule": crontab(hour=settings.eval_nightly_hour, minute=settings.eval_nightly_minute),
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
