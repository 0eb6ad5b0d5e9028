"""Celery tasks of the alerter queue."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.common import Payload
from ragtasks_core.tasks import parse_payload


@shared_task(name=TaskName.ALERTER_PING.value)
def ping(**kwargs: Any) -> str:
    """No-op round trip (idempotent)."""
    parse_payload(Payload, kwargs)
    return "pong"
