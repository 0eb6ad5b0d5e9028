"""Publishing tasks by name (``send_task``), off the event loop, with publisher confirms."""

from __future__ import annotations

import logging

from celery import Celery
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ragtasks_core import metrics
from ragtasks_core.contract import TaskName, queue_for

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not confirm the message (down, unreachable, or refused it)."""


class Publisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish_sync(self, task: TaskName, payload: BaseModel, *, task_id: str | None = None) -> str:
        queue = queue_for(task.value).value
        try:
            result = self.app.send_task(
                task.value,
                kwargs=payload.model_dump(mode="json"),
                task_id=task_id,
                retry=True,
                # Fail fast: the caller (or the outbox sweep) owns retrying later.
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
            )
        except Exception as exc:
            metrics.TASKS_PUBLISHED.labels(task.value, queue, "error").inc()
            log.warning("publish of %s failed: %s", task.value, exc)
            raise PublishError(str(exc)) from exc
        metrics.TASKS_PUBLISHED.labels(task.value, queue, "ok").inc()
        return str(result.id)

    async def publish(self, task: TaskName, payload: BaseModel, *, task_id: str | None = None) -> str:
        # kombu is blocking (and waits for the publisher confirm): keep it off the event loop.
        return await run_in_threadpool(self.publish_sync, task, payload, task_id=task_id)
