"""``TaskPublisher``: publish ragtasks tasks with pika, publisher confirms and bounded retries.

Guarantees of :meth:`TaskPublisher.publish` when it returns a task id:
- the broker *confirmed* the message (``confirm_delivery``), so it is on a durable queue;
- it was *routable* (``mandatory=True``): a message no queue would take raises ``Unroutable``
  instead of vanishing;
- it is persistent (``delivery_mode=2``).
Connection loss is retried a bounded number of times (reconnect, re-publish the same task id;
a duplicate is harmless because ragtasks tasks are idempotent by task id or by design).
"""

from __future__ import annotations

import contextlib
import logging
import time
from types import TracebackType
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPChannelError, AMQPConnectionError, NackError, UnroutableError

from .message import TaskMessage, build_message

log = logging.getLogger(__name__)

SUMMARIZE_SESSION = "ragtasks.summarizer.summarize_session"
RUN_EVALUATION = "ragtasks.evaluator.run_evaluation"
RAISE_ALERT = "ragtasks.alerter.raise_alert"
PAYLOAD_VERSION = 1


class PublishFailed(Exception):
    """The broker could not be reached, or refused the message, within the retry budget."""


class Unroutable(PublishFailed):
    """No queue is bound for the message's routing key (the topology is missing or wrong)."""


class TaskPublisher:
    """One AMQP connection + confirm-mode channel, opened lazily and re-opened on loss.

    Not thread-safe (pika's BlockingConnection is not): use one publisher per thread.
    """

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 3,
        retry_delay: float = 0.5,
        connect_timeout: float = 3.0,
        confirm_timeout: float = 10.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.params = pika.URLParameters(url)
        self.params.connection_attempts = 1  # our loop does the retrying, bounded
        self.params.socket_timeout = connect_timeout
        self.params.stack_timeout = connect_timeout + 2
        self.params.blocked_connection_timeout = confirm_timeout
        self.attempts = attempts
        self.retry_delay = retry_delay
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    # --- connection ---------------------------------------------------------------------------

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(self.params)
        channel = self._connection.channel()
        channel.confirm_delivery()
        self._channel = channel
        return channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(AMQPConnectionError, AMQPChannelError, OSError):
                connection.close()

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> TaskPublisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- publishing ---------------------------------------------------------------------------

    def send(self, message: TaskMessage) -> str:
        """Publish a built message; returns its task id once the broker confirmed it."""
        properties = pika.BasicProperties(
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=message.delivery_mode,
            headers=message.headers,
            **message.properties,
        )
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                channel = self._ensure_channel()
                channel.basic_publish(message.exchange, message.routing_key, message.body, properties, mandatory=True)
                return message.task_id
            except UnroutableError as exc:
                raise Unroutable(
                    f"no queue bound to {message.exchange!r} with routing key {message.routing_key!r}; "
                    "start the worker once (it declares the topology)"
                ) from exc
            except NackError as exc:
                last = exc
            except (AMQPConnectionError, AMQPChannelError, OSError) as exc:
                last = exc
                self._drop()
            if attempt < self.attempts:
                log.warning("publish of %s failed (attempt %d/%d): %r", message.task_id, attempt, self.attempts, last)
                time.sleep(self.retry_delay * attempt)
        raise PublishFailed(f"could not publish task {message.task_id} after {self.attempts} attempts: {last!r}")

    def publish(self, task: str, kwargs: dict[str, Any] | None = None, *, task_id: str | None = None) -> str:
        """Publish ``task`` (a ragtasks task name) with keyword arguments; returns the task id."""
        return self.send(build_message(task, kwargs, task_id=task_id))

    # --- one-call helpers (payload fields per docs/schemas/<task>.json) -------------------------

    def publish_summarize(self, session_id: str, *, reason: str = "manual", task_id: str | None = None) -> str:
        kwargs = {"v": PAYLOAD_VERSION, "session_id": session_id, "reason": reason}
        return self.publish(SUMMARIZE_SESSION, kwargs, task_id=task_id)

    def publish_evaluation(self, *, task_id: str | None = None, **fields: Any) -> str:
        return self.publish(RUN_EVALUATION, {"v": PAYLOAD_VERSION, **fields}, task_id=task_id)

    def publish_alert(self, *, task_id: str | None = None, **fields: Any) -> str:
        return self.publish(RAISE_ALERT, {"v": PAYLOAD_VERSION, **fields}, task_id=task_id)

    def publish_ping(self, queue: str, *, task_id: str | None = None) -> str:
        return self.publish(f"ragtasks.{queue}.ping", {"v": PAYLOAD_VERSION}, task_id=task_id)
