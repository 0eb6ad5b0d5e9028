"""Beat's scheduler, with the outbox: a run that falls due while RabbitMQ is down is not lost.

For each due entry the scheduler first writes an outbox record (``ragtasks_core.outbox``) whose
task id is deterministic -- ``beat:<entry>:<due time>`` -- then publishes with a fail-fast policy
and marks the record published. If the broker is down the record stands and the outbox sweep
publishes it when the broker is back (unless its ``expires`` passed meanwhile). A beat restarted
after a crash re-runs an entry whose due time it had not yet saved: the same id, so the outbox
insert is refused and the run is not doubled.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.result import AsyncResult

from ragtasks_core import outbox, runtime

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


def due_time(entry: ScheduleEntry) -> datetime:
    """When ``entry`` fell due: its last run plus the schedule's step (interval or crontab),
    to the second -- the same whenever beat gets round to it."""
    now: datetime = entry.schedule.now()
    remaining: timedelta = entry.schedule.remaining_estimate(entry.last_run_at)
    due = (now + remaining).astimezone(UTC)
    return datetime.fromtimestamp(round(due.timestamp()), UTC)


def run_id(entry_name: str, due: datetime) -> str:
    return f"beat:{_UNSAFE.sub('-', entry_name)[:80]}:{int(due.timestamp())}"


class OutboxScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        outbox.fail_fast(self.app, runtime.configured_settings().publish_timeout_seconds)

    @property
    def producer(self) -> None:
        # Stock beat connects (retrying ~forever) for its producer before sending anything;
        # we publish through the app's producer pool with a fail-fast policy instead.
        return None

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> AsyncResult:
        entry = self.reserve(entry) if advance else entry
        now = datetime.now(UTC)
        due = due_time(entry)
        task_id = run_id(entry.name, due)
        options = {**entry.options, **kwargs}
        expires = options.pop("expires", None)
        expires_at = due + timedelta(seconds=float(expires)) if isinstance(expires, int | float) else None
        db = runtime.get_runtime().db
        doc = outbox.new_record(entry.task, dict(entry.kwargs or {}), task_id, now=now, expires_at=expires_at)
        if not outbox.record(db, doc):
            log.info("scheduled run %s was already recorded; not publishing it twice", task_id)
            return AsyncResult(task_id, app=self.app)
        left = outbox.remaining_expiry(doc, now)
        if left is not None:
            options["expires"] = max(left, 1.0)
        try:
            outbox.send(self.app, entry.task, doc["kwargs"], task_id, **options)
        except Exception as exc:  # noqa: BLE001 -- whatever failed, the record stands for the sweep
            log.warning("broker unavailable for %s (%s): recorded, the outbox sweep publishes it later", task_id, exc)
            outbox.mark_failed(db, task_id, repr(exc))
        else:
            outbox.mark_published(db, task_id)
        finally:
            self._tasks_since_sync += 1
            if self.should_sync():
                self._do_sync()
        return AsyncResult(task_id, app=self.app)
