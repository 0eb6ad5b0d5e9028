"""The beat schedule is configuration: built from settings, publishing tasks by name."""

from __future__ import annotations

from typing import Any

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        # The outbox: publish summaries that were wanted while the broker was away.
        "sweep-summary-outbox": {
            "task": TaskName.SWEEP_OUTBOX.value,
            "schedule": 60.0,
            "kwargs": {},
            "options": {"expires": 55},
        },
    }
