"""Dead-letter queues: the format of a dead letter, and the admin tool (``ragtasks dlq``).

Every task queue ``<q>`` (``contract.TASK_QUEUES``: one per worker, and ``maintenance``)
dead-letters to exchange ``ragtasks.dlx`` with routing key ``<q>``,
bound to the quorum queue ``<q>.dlq`` (see ``celery_app``). RabbitMQ's own dead-lettering
(``basic.reject`` without requeue, or ``x-delivery-limit``) records only *that* it happened
(``x-death.reason = rejected | delivery_limit``), not *why*; so the worker (``consumer``)
publishes its own copy with the reason in the ``x-ragtasks-*`` headers defined here. This
module reads them back: :func:`reason_of` prefers our header and otherwise infers the reason
from ``x-death`` and the message itself; :func:`list_messages`, :func:`replay` and
:func:`purge` are what ``ragtasks dlq list|replay|purge`` run, over pika, outside any worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

from ragtasks_publisher.urls import pika_parameters

from .celery_app import TASK_EXCHANGE, dead_letter_queue_name
from .contract import TASK_QUEUES, TaskName

# The headers of a reason-stamped dead letter (``consumer.publish_dead_letter`` writes them).
REASON_HEADER = "x-ragtasks-reason"
TASK_HEADER = "x-ragtasks-task"
QUEUE_HEADER = "x-ragtasks-queue"
AT_HEADER = "x-ragtasks-dead-lettered-at"
REPLAYS_HEADER = "x-ragtasks-replays"
# Broker-added headers that must not travel into a replayed message.
_DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                  "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")  # fmt: skip


class UnknownQueue(ValueError):
    pass


def resolve_queue(name: str) -> str:
    """``summarizer`` or ``summarizer.dlq`` -> ``summarizer``; UnknownQueue unless a task queue."""
    base = name.removesuffix(".dlq")
    if base not in TASK_QUEUES:
        known = ", ".join(TASK_QUEUES)
        raise UnknownQueue(f"unknown queue {name!r}: expected one of {known} (or <queue>.dlq)")
    return base


@dataclass(frozen=True)
class DeadLetter:
    task: str | None
    task_id: str | None
    reason: str
    age_seconds: float | None
    routing_key: str
    redeliveries: int


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death") or []
    return dict(deaths[0]) if deaths and isinstance(deaths[0], dict) else {}


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float | str | bytes):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def reason_of(headers: dict[str, Any], content_type: str | None) -> str:
    """Why a message is in the DLQ: our header, or what ``x-death`` and the message tell."""
    if headers.get(REASON_HEADER):
        return _text(headers[REASON_HEADER])
    death = _death(headers)
    why = _text(death.get("reason", "unknown"))
    if why == "delivery_limit":
        return f"delivery limit reached: delivered {death.get('count', '?')}x without an ack (it kept crashing or "
        "stalling its worker)"
    if why != "rejected":
        return f"dead-lettered by the broker: {why}"
    task = headers.get("task")
    if not task:
        return "rejected: not a Celery protocol v2 task message (no 'task' header)"
    if content_type != "application/json":
        return f"rejected: content type {content_type!r} is not accepted (JSON only)"
    if _text(task) not in {t.value for t in TaskName}:
        return f"rejected: unknown task name {_text(task)!r}"
    return "rejected by the worker (no reason recorded)"


def _routing_key(headers: dict[str, Any], queue: str) -> str:
    if headers.get(QUEUE_HEADER):
        return _text(headers[QUEUE_HEADER])
    keys = _death(headers).get("routing-keys") or []
    return _text(keys[0]) if keys else queue


def describe(headers: dict[str, Any], content_type: str | None, queue: str, now: float) -> DeadLetter:
    at = _epoch(headers.get(AT_HEADER)) or _epoch(_death(headers).get("time"))
    task = headers.get("task")
    task_id = headers.get("id")
    return DeadLetter(
        task=_text(task) if task else None,
        task_id=_text(task_id) if task_id else None,
        reason=reason_of(headers, content_type),
        age_seconds=None if at is None else max(0.0, now - at),
        routing_key=_routing_key(headers, queue),
        redeliveries=int(_death(headers).get("count", 0) or 0),
    )


@contextmanager
def _channel(url: str) -> Iterator[BlockingChannel]:
    # Read as Celery reads it: ``//`` is the default vhost, ``a;b`` tries each host in order.
    connection = pika.BlockingConnection(pika_parameters(url, connection_attempts=2, socket_timeout=5))
    try:
        channel = connection.channel()
        yield channel
    finally:
        if connection.is_open:
            connection.close()


def _depth(channel: BlockingChannel, dlq: str) -> int:
    try:
        return int(channel.queue_declare(dlq, passive=True).method.message_count)
    except ChannelClosedByBroker as exc:
        raise UnknownQueue(f"queue {dlq!r} does not exist on this broker/vhost (start its worker once)") from exc


def list_messages(url: str, queue: str, *, limit: int = 20) -> tuple[int, list[DeadLetter]]:
    """(messages in the DLQ, the first ``limit`` of them). Nothing is removed."""
    dlq = dead_letter_queue_name(queue)
    now = time.time()
    with _channel(url) as channel:
        count = _depth(channel, dlq)
        seen: list[DeadLetter] = []
        for _ in range(min(limit, count)):
            method, props, _body = channel.basic_get(dlq, auto_ack=False)
            if method is None:
                break
            seen.append(describe(dict(props.headers or {}), props.content_type, queue, now))
        if seen:
            channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    return count, seen


def replay(url: str, queue: str, *, ids: set[str] | None = None) -> int:
    """Re-publish DLQ messages (all, or those whose task id is in ``ids``) to the task exchange
    with their original routing key, then remove them from the DLQ. Returns how many."""
    dlq = dead_letter_queue_name(queue)
    replayed = 0
    with _channel(url) as channel:
        count = _depth(channel, dlq)
        channel.confirm_delivery()
        keep: list[int] = []
        for _ in range(count):
            method, props, body = channel.basic_get(dlq, auto_ack=False)
            if method is None:
                break
            headers = dict(props.headers or {})
            if ids is not None and _text(headers.get("id", "")) not in ids:
                keep.append(method.delivery_tag)
                continue
            routing_key = _routing_key(headers, queue)
            fresh = {k: v for k, v in headers.items() if k not in _DEATH_HEADERS and not k.startswith("x-ragtasks-")}
            fresh[REPLAYS_HEADER] = int(headers.get(REPLAYS_HEADER, 0) or 0) + 1
            props.headers = fresh
            channel.basic_publish(TASK_EXCHANGE, routing_key, body, props, mandatory=True)
            channel.basic_ack(method.delivery_tag)
            replayed += 1
        for tag in keep:
            channel.basic_nack(tag, requeue=True)
    return replayed


def purge(url: str, queue: str) -> int:
    dlq = dead_letter_queue_name(queue)
    with _channel(url) as channel:
        _depth(channel, dlq)
        return int(channel.queue_purge(dlq).method.message_count)
