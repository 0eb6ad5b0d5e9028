"""Helpers every Celery task shares: payload validation before any work.

An invalid payload (or one of a version this worker does not know) is never retried and never
silently acked: it goes to the queue's dead-letter queue *with its reason* (see ``consumer``).
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn, TypeVar

from celery import current_task
from celery.exceptions import Ignore, Reject
from pydantic import BaseModel, ValidationError

from . import consumer
from .contract import PAYLOAD_VERSION

log = logging.getLogger(__name__)
P = TypeVar("P", bound=BaseModel)


class InvalidPayload(Exception):
    """The task's payload failed validation; the message is in the dead-letter queue."""


def parse_payload(model: type[P], kwargs: dict[str, Any]) -> P:
    """Validate a payload; an invalid one goes to the dead-letter queue with its reason."""
    version = kwargs.get("v", PAYLOAD_VERSION)
    if version != PAYLOAD_VERSION:
        reject(f"unknown payload version v={version!r} for {model.__name__} (this worker knows v={PAYLOAD_VERSION})")
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        reject(f"invalid {model.__name__} payload: {exc.errors(include_url=False, include_input=False)}")


def reject(reason: str) -> NoReturn:
    """End the running task: its message goes to the DLQ exactly once, with ``reason``.

    Either our own confirmed copy (with the reason) and an ack of the original (``Ignore``), or,
    if that publish failed, a plain reject that the broker dead-letters (without the reason).
    """
    log.warning("rejecting task: %s", reason)
    task = current_task
    if task is not None and task.request.id and consumer.dead_letter_current(reason):
        # Celery stores no result for Ignore: record the failure, so GET /v1/tasks/{id} shows it.
        task.backend.mark_as_failure(task.request.id, InvalidPayload(reason), request=task.request)
        raise Ignore(reason)
    raise Reject(reason, requeue=False)
