"""Dead-letter queues: dead-letter a task *with its reason*, and inspect/replay/purge a DLQ.

Every task queue ``<q>`` dead-letters to exchange ``ragtasks.dlx`` with routing key ``<q>``,
bound to the quorum queue ``<q>.dlq`` (see ``celery_app``). RabbitMQ's own dead-lettering
(``basic.reject`` without requeue, or ``x-delivery-limit``) records only *that* it happened
(``x-death.reason = rejected | delivery_limit``), not *why*. So when a task rejects its own
message (invalid payload, unknown version), :func:`dead_letter_current` publishes the copy
itself, with the reason in the ``x-ragtasks-reason`` header, waits for the broker's confirm, and
only then lets the worker *ack* the original: exactly one copy lands in the DLQ. If that publish
fails, the task falls back to a plain reject (the broker's copy, without the reason) -- still
exactly one. For messages Celery rejects before any task code runs (unknown task name, no task
header), :func:`reason_of` infers the reason from ``x-death`` and the message itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
from celery import Celery
from celery.utils.objects import Bunch
from celery.worker.consumer import Consumer
from kombu.message import Message
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker

from .celery_app import DEAD_LETTER_EXCHANGE, TASK_EXCHANGE, dead_letter_queue_name
from .contract import Queue, TaskName

log = logging.getLogger(__name__)

REASON_HEADER = "x-ragtasks-reason"
TASK_HEADER = "x-ragtasks-task"
QUEUE_HEADER = "x-ragtasks-queue"
AT_HEADER = "x-ragtasks-dead-lettered-at"
REPLAYS_HEADER = "x-ragtasks-replays"
# Header keys of Celery's protocol v2 (what a task message carries besides the body).
PROTOCOL_V2_HEADERS = (
    "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries", "timelimit",
    "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting",
    "stamped_headers", "stamps",
)  # fmt: skip
# Broker-added headers that must not travel into a replayed message.
_DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                  "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")  # fmt: skip
_FAST_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}


# --- worker side --------------------------------------------------------------------------------


def publish_dead_letter(
    app: Celery,
    *,
    queue: str,
    body: bytes | str,
    headers: dict[str, Any],
    content_type: str | None,
    content_encoding: str | None,
    properties: dict[str, Any],
    reason: str,
    task: str | None,
) -> bool:
    """Publish one message to ``ragtasks.dlx`` (routing key ``queue``) with the reason headers.

    Waits for the broker's confirm (``confirm_publish``); True when confirmed, False otherwise.
    """
    stamped = {
        **headers,
        REASON_HEADER: reason[:2000],
        TASK_HEADER: task or "",
        QUEUE_HEADER: queue,
        AT_HEADER: int(time.time()),
    }
    extra = {k: properties[k] for k in ("correlation_id", "reply_to", "priority") if properties.get(k) is not None}
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(
                body,
                exchange=DEAD_LETTER_EXCHANGE,
                routing_key=queue,
                headers=stamped,
                content_type=content_type or "application/octet-stream",
                content_encoding=content_encoding or "binary",
                delivery_mode=2,
                retry=True,
                retry_policy=_FAST_RETRY,
                mandatory=True,
                **extra,
            )
    except Exception as exc:
        log.warning("could not dead-letter a %s message with its reason: %s", queue, exc, exc_info=True)
        return False
    return True


def dead_letter_current(reason: str) -> bool:
    """Publish a copy of the running task's message to the DLX with ``reason``; True if confirmed.

    Runs inside a task. The copy has the same task id, body and protocol headers (rebuilt from the
    request: the body was valid JSON, or the task would not be running).
    """
    from celery import current_task

    task = current_task
    if task is None or not task.request.id:
        return False
    request = task.request
    headers = {key: getattr(request, key, None) for key in PROTOCOL_V2_HEADERS}
    headers.update({k: v for k, v in vars(request).items() if k.startswith("ragtasks_")})
    headers["task"], headers["id"] = task.name, request.id
    embed = {key: getattr(request, key, None) for key in ("callbacks", "errbacks", "chain", "chord")}
    return publish_dead_letter(
        task.app,
        queue=(request.delivery_info or {}).get("routing_key") or task.name.split(".")[1],
        body=json.dumps([list(request.args or []), dict(request.kwargs or {}), embed]),
        headers=headers,
        content_type="application/json",
        content_encoding="utf-8",
        properties={"correlation_id": request.id, **(getattr(request, "properties", None) or {})},
        reason=reason,
        task=task.name,
    )


class _Swapped:
    """A kombu message whose ``ack``/``reject`` are swapped (the copy is already dead-lettered,
    or could not be, and Celery would otherwise drop it)."""

    def __init__(self, message: Message, *, reject_acks: bool) -> None:
        self._message = message
        self._reject_acks = reject_acks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message, name)

    def reject_log_error(self, logger: Any, errors: Any, requeue: bool = False) -> None:
        if self._reject_acks:
            self._message.ack_log_error(logger, errors)
        else:
            self._message.reject_log_error(logger, errors, requeue=requeue)

    def ack(self, multiple: bool = False) -> None:
        if self._reject_acks:
            self._message.ack(multiple=multiple)
        else:
            self._message.reject(requeue=False)


class DeadLetteringConsumer(Consumer):
    """Celery's consumer, but every message it refuses goes to the DLQ *with a reason*.

    Stock Celery rejects unknown tasks, bodies it may not decode and non-task messages (which
    our queues dead-letter without a reason), and *acks* -- silently drops -- a body it cannot
    decode. Here each gets a confirmed reason-stamped copy in the DLQ and the original is acked;
    if the copy cannot be published the original is rejected, so the broker dead-letters it.
    """

    def _copy(self, message: Message, reason: str) -> bool:
        headers = dict(message.headers or {})
        return publish_dead_letter(
            self.app,
            queue=(message.delivery_info or {}).get("routing_key") or "unknown",
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            properties=dict(message.properties or {}),
            reason=reason,
            task=str(headers.get("task") or "") or None,
        )

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        copied = self._copy(message, f"cannot decode the body as {message.content_type!r}: {exc}")
        super().on_decode_error(_Swapped(message, reject_acks=copied), exc)

    def on_unknown_message(self, body: Any, message: Message) -> None:
        copied = self._copy(message, "not a Celery protocol v2 task message (no 'task' header)")
        super().on_unknown_message(body, _Swapped(message, reject_acks=copied))

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        copied = self._copy(message, f"unknown task name {name!r} (not registered on this worker)")
        super().on_unknown_task(body, _Swapped(message, reject_acks=copied), exc)

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        copied = self._copy(message, f"invalid task message: {exc}")
        super().on_invalid_task(body, _Swapped(message, reject_acks=copied), exc)

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's handler, after one check of ours: a ragtasks task with positional arguments.

        Our tasks take keyword arguments only (``def task(**kwargs)``), so a body
        ``[["x"], {...}, {...}]`` would reach ``task("x", ...)``, fail with a TypeError before the
        payload is validated, and be acked as a plain FAILURE. Instead it is dead-lettered with
        its reason, like any other payload the worker cannot run.
        """
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Message) -> Any:
            reason = positional_args_reason(message)
            if reason is None:
                return handle(message)
            if self._copy(message, reason):
                message.ack_log_error(log, self.connection_errors)
            else:
                message.reject_log_error(log, self.connection_errors, requeue=False)
            headers = message.headers
            request = {"name": headers["task"], "root_id": headers.get("root_id"), "chord": None, "errbacks": None}
            try:  # so that GET /v1/tasks/{id} shows FAILURE and why
                self.app.backend.mark_as_failure(headers["id"], InvalidMessage(reason), request=Bunch(**request))
            except Exception:  # the message is dead-lettered either way
                log.warning("could not record the failure of refused task %s", headers["id"], exc_info=True)
            return None

        return on_task_received


class InvalidMessage(Exception):
    """A task message the worker refused to run (it is in the dead-letter queue)."""


_RAGTASKS_TASKS = frozenset(t.value for t in TaskName)


def positional_args_reason(message: Message) -> str | None:
    """Why a ragtasks task message must be refused for positional arguments, or None.

    Only JSON bodies of our own task names are looked at (the decoded body is cached on the
    message, so Celery does not decode it twice); anything else takes Celery's usual path.
    """
    headers = message.headers if isinstance(message.headers, dict) else {}
    if headers.get("task") not in _RAGTASKS_TASKS or not headers.get("id"):
        return None
    if message.content_type != "application/json":
        return None
    try:
        body = message.decode()
    except Exception:  # noqa: BLE001 -- Celery's own path reports undecodable bodies
        return None
    if isinstance(body, list | tuple) and body and body[0]:
        count = len(body[0]) if isinstance(body[0], list | tuple) else 1
        return (
            f"positional arguments are not accepted: {headers['task']} takes keyword arguments only "
            f"(got {count} positional)"
        )
    return None


# --- inspection (the ``ragtasks dlq`` command) ---------------------------------------------------


class UnknownQueue(ValueError):
    pass


def resolve_queue(name: str) -> Queue:
    """``summarizer`` or ``summarizer.dlq`` -> Queue.SUMMARIZER; UnknownQueue otherwise."""
    base = name.removesuffix(".dlq")
    try:
        return Queue(base)
    except ValueError:
        known = ", ".join(q.value for q in Queue)
        raise UnknownQueue(f"unknown queue {name!r}: expected one of {known} (or <queue>.dlq)") from None


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


def _routing_key(headers: dict[str, Any], queue: Queue) -> str:
    if headers.get(QUEUE_HEADER):
        return _text(headers[QUEUE_HEADER])
    keys = _death(headers).get("routing-keys") or []
    return _text(keys[0]) if keys else queue.value


def describe(headers: dict[str, Any], content_type: str | None, queue: Queue, now: float) -> DeadLetter:
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
    params = pika.URLParameters(url)
    params.connection_attempts = 2
    params.socket_timeout = 5
    connection = pika.BlockingConnection(params)
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


def list_messages(url: str, queue: Queue, *, limit: int = 20) -> tuple[int, list[DeadLetter]]:
    """(messages in the DLQ, the first ``limit`` of them). Nothing is removed."""
    dlq = dead_letter_queue_name(queue.value)
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


def replay(url: str, queue: Queue, *, ids: set[str] | None = None) -> int:
    """Re-publish DLQ messages (all, or those whose task id is in ``ids``) to the task exchange
    with their original routing key, then remove them from the DLQ. Returns how many."""
    dlq = dead_letter_queue_name(queue.value)
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


def purge(url: str, queue: Queue) -> int:
    dlq = dead_letter_queue_name(queue.value)
    with _channel(url) as channel:
        _depth(channel, dlq)
        return int(channel.queue_purge(dlq).method.message_count)
