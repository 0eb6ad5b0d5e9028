"""Publishing tasks by name (``send_task``), off the event loop, with publisher confirms.

Fail fast: when RabbitMQ is down a publish gives up within about the publish timeout (connect
timeout, one quick retry, confirm timeout) instead of kombu's default minutes of reconnecting.
What must not be lost is written to Mongo first (the session's ``summary_pending``, or the
``outbox`` collection via :meth:`Publisher.publish_reliably`), and the outbox sweep publishes it
once the broker is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from celery import Celery
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from starlette.concurrency import run_in_threadpool

from ragtasks_core import metrics, outbox
from ragtasks_core.contract import TaskName, queue_for

log = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not confirm the message (down, unreachable, or refused it)."""


class Publisher:
    def __init__(self, app: Celery, *, timeout: float = 1.5) -> None:
        self.app = app
        self.timeout = timeout
        outbox.fail_fast(app, timeout)

    def publish_sync(self, task: TaskName, payload: BaseModel, *, task_id: str | None = None) -> str:
        queue = queue_for(task.value).value
        kwargs = payload.model_dump(mode="json")
        try:
            result = self.app.send_task(
                task.value,
                kwargs=kwargs,
                task_id=task_id,
                # What Flower and the logs show; Celery's own saferepr walks the payload in Python
                # (~0.1 ms a publish), the builtin repr of a JSON-safe payload is the same text.
                argsrepr="()",
                kwargsrepr=short_repr(kwargs),
                retry=True,
                # Fail fast: the caller (or the outbox sweep) owns retrying later.
                retry_policy={"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.2},
                confirm_timeout=self.timeout,
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

    async def publish_after_write(
        self,
        task: TaskName,
        payload: BaseModel,
        *,
        task_id: str,
        mark: Callable[[], Awaitable[object]] | None = None,
        failed: Callable[[Exception], Awaitable[object]] | None = None,
    ) -> bool:
        """Publish what is already written to Mongo, then ``mark()`` it published: True. On a
        broker failure (:class:`PublishError`) ``failed(exc)`` is called and False returned: the
        written state stands for a sweep (:func:`ragtasks_core.outbox.publish_after_write_async`)."""
        return await outbox.publish_after_write_async(
            lambda: self.publish(task, payload, task_id=task_id),
            mark or _nothing,
            failed=failed or _ignore,
            errors=(PublishError,),
        )

    async def publish_reliably(
        self, task: TaskName, payload: BaseModel, *, task_id: str | None = None, db: AsyncDatabase
    ) -> tuple[str, bool]:
        """Record in the outbox, publish, mark published: ``(task_id, published_now)``.

        Never raises for a broker failure: the record stands and the outbox sweep publishes it
        (same task id) when the broker is back. Raises only if Mongo refuses the record.
        """
        record_id = task_id or outbox.new_task_id()
        kwargs: dict[str, Any] = payload.model_dump(mode="json")
        if not await outbox.record_async(db, outbox.new_record(task.value, kwargs, record_id)):
            return record_id, False  # already recorded: its first writer or the sweep publishes it
        published = await self.publish_after_write(
            task,
            payload,
            task_id=record_id,
            mark=lambda: outbox.mark_published_async(db, record_id),
            failed=lambda exc: outbox.mark_failed_async(db, record_id, str(exc)),
        )
        return record_id, published


async def _nothing() -> None:
    return None


async def _ignore(exc: Exception) -> None:
    return None


REPR_MAX_CHARS = 1024  # Celery's own limit for kwargsrepr


def short_repr(kwargs: dict[str, Any]) -> str:
    text = repr(kwargs)
    return text if len(text) <= REPR_MAX_CHARS else text[: REPR_MAX_CHARS - 3] + "..."
