"""A small, dependency-light publisher of ragtasks tasks: pika + the standard library only.

Producers that are not ragtasks (API gateways, scripts, services in other languages) can use
this package -- or copy it: it speaks the wire contract written down in ``docs/contract.md``
and imports neither Celery nor the gateway nor pydantic.

    from ragtasks_publisher import TaskPublisher
    with TaskPublisher("amqp://guest:guest@127.0.0.1:5672//") as pub:
        task_id = pub.publish_summarize("chat-42")
"""

from __future__ import annotations

from .client import ConfirmTimeout, PublishFailed, TaskPublisher, Unroutable
from .message import EXCHANGE, TaskMessage, build_message, queue_of

__all__ = [
    "EXCHANGE",
    "ConfirmTimeout",
    "PublishFailed",
    "TaskMessage",
    "TaskPublisher",
    "Unroutable",
    "build_message",
    "queue_of",
]
