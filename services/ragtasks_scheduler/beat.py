"""Run Celery beat with the ragtasks schedule."""

from __future__ import annotations

import os
import tempfile

from ragtasks_core.celery_app import create_celery
from ragtasks_core.settings import Settings

from .schedule import beat_schedule


def run_beat(settings: Settings, *, schedule_file: str | None = None, loglevel: str = "INFO") -> None:
    app = create_celery(settings)
    app.conf.beat_schedule = beat_schedule(settings)
    # Beat's state file needs a writable place; the container's root filesystem is read-only.
    schedule_file = schedule_file or os.path.join(tempfile.gettempdir(), "ragtasks-beat-schedule")
    app.Beat(schedule=schedule_file, loglevel=loglevel, quiet=True).run()
