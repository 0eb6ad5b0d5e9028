"""``TaskPublisher``: publish ragtasks tasks with pika, publisher confirms and bounded retries.

Guarantees of :meth:`TaskPublisher.publish` when it returns a task id:
- the broker *confirmed* the message (``confirm_delivery``), so it is on a durable queue;
- it was *routable* (``mandatory=True``): a message no queue would take raises ``Unroutable``
  instead of vanishing;
- it is persistent (``delivery_mode=2``).
Connection loss is retried a bounded number of times (reconnect, re-publish the same task id;
a duplicate is harmless because ragtasks tasks are idempotent by task id or by design).

The URL is read as kombu reads it (``urls.py``: ``//`` is the default vhost, ``amqps://``,
``;``-separated failover hosts tried in order, query options). Every step has a deadline, so a
publish fails (``PublishFailed``) within about ``attempts * (hosts * 2 * connect_timeout +
confirm_timeout) + retry_delay * attempts * (attempts - 1) / 2`` seconds (``hosts``: entries of
the URL; options in the URL may lengthen the connect steps) whatever the broker does: refuse
connections, accept and say nothing (connect and handshake deadline), block the connection
(``blocked_connection_timeout``), or take a message and never confirm it (a timer on pika's I/O
loop aborts the connection).
"""

from __future__ import annotations

import contextlib
import logging
import time
from types import TracebackType
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import AMQPChannelError, AMQPConnectionError, NackError, UnroutableError

from .message import TaskMessage, build_message, origin
from .urls import pika_parameters

log = logging.getLogger(__name__)

SUMMARIZE_SESSION = "ragtasks.summarizer.summarize_session"
RUN_EVALUATION = "ragtasks.evaluator.run_evaluation"
MAINTAIN_KB = "ragtasks.evaluator.maintain_kb"
NIGHTLY = "ragtasks.evaluator.nightly"
RAISE_ALERT = "ragtasks.alerter.raise_alert"
PAYLOAD_VERSION = 1


class PublishFailed(Exception):
    """The broker could not be reached, or refused the message, within the retry budget."""


class Unroutable(PublishFailed):
    """No queue is bound for the message's routing key (the topology is missing or wrong)."""


class ConfirmTimeout(AMQPConnectionError):
    """The broker took the message but sent no publisher confirm in time; the connection was aborted."""


class ConfirmDeadline:
    """Abort ``connection`` if it is still waiting ``seconds`` from now (use around one publish).

    pika's ``BlockingConnection`` waits for a publisher confirm with no time limit, and its
    ``blocked_connection_timeout`` covers only a broker that *says* it is blocked. This arms a
    timer on the connection's own I/O loop -- the loop that waits for the confirm, so the timer
    fires inside that wait, in the same thread -- which aborts the transport: pika then ends the
    wait with a connection error, as if the network had dropped. (It reaches into pika: the
    ``SelectConnection`` behind ``BlockingConnection``, its public ``ioloop``, and the internal
    ``_terminate_stream`` pika uses for its own fatal stream errors; without them this warns and
    publishes without a deadline. ``tests/unit/publishing/test_publisher_client.py`` checks it
    against a broker that takes messages and never confirms them.)
    """

    def __init__(self, connection: pika.BlockingConnection, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._impl = getattr(connection, "_impl", None)
        self._ioloop = getattr(self._impl, "ioloop", None)
        usable = self._ioloop is not None and hasattr(self._impl, "_terminate_stream")
        self._timer = self._ioloop.call_later(seconds, self._fire) if usable else None  # type: ignore[union-attr]
        if self._timer is None:
            log.warning("this pika offers no way to time publisher confirms; they wait without a deadline")

    def _fire(self) -> None:
        self.fired = True
        log.warning("no publisher confirm within %.1fs: aborting the connection", self.seconds)
        # What pika itself does on a fatal stream error: record why, then abort the transport.
        self._impl._terminate_stream(ConfirmTimeout(f"no publisher confirm within {self.seconds}s"))  # type: ignore[union-attr]

    def cancel(self) -> None:
        if self._timer is not None and self._ioloop is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None

    def __enter__(self) -> ConfirmDeadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class TaskPublisher:
    """One AMQP connection + confirm-mode channel, opened lazily and re-opened on loss.

    ``attempts`` bounds the tries of one publish (connect + publish + confirm each), with
    ``retry_delay * attempt`` seconds between them. ``connection_name`` shows in the RabbitMQ
    management UI (and in ``rabbitmqctl list_connections client_properties``).

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
        connection_name: str | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if confirm_timeout <= 0:
            raise ValueError("confirm_timeout must be positive")
        # One entry per host of a failover URL (``a;b``): each connect tries them in order.
        self.params = pika_parameters(
            url,
            connection_attempts=1,  # our loop does the retrying, bounded
            socket_timeout=connect_timeout,
            stack_timeout=2 * connect_timeout,  # TCP connect + AMQP handshake
            blocked_connection_timeout=confirm_timeout,  # a broker that says it is blocked
            client_properties={"connection_name": connection_name or f"ragtasks-publisher {origin()}"},
        )
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.confirm_timeout = confirm_timeout
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    # --- connection ---------------------------------------------------------------------------

    def _ensure_channel(self) -> tuple[pika.BlockingConnection, BlockingChannel]:
        if self._connection is None or not self._connection.is_open:
            self._connection, self._channel = pika.BlockingConnection(self.params), None
        if self._channel is None or not self._channel.is_open:
            channel = self._connection.channel()
            channel.confirm_delivery()
            self._channel = channel
        return self._connection, self._channel

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

    def _publish_once(self, message: TaskMessage, properties: pika.BasicProperties) -> None:
        connection, channel = self._ensure_channel()
        with ConfirmDeadline(connection, self.confirm_timeout) as deadline:
            try:
                channel.basic_publish(message.exchange, message.routing_key, message.body, properties, mandatory=True)
            except AMQPConnectionError as exc:
                if deadline.fired:
                    raise ConfirmTimeout(f"no publisher confirm within {self.confirm_timeout}s") from exc
                raise

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
                self._publish_once(message, properties)
                return message.task_id
            except UnroutableError as exc:
                raise Unroutable(
                    f"no queue bound to {message.exchange!r} with routing key {message.routing_key!r}; "
                    "start the worker once (it declares the topology)"
                ) from exc
            except NackError as exc:
                last = exc
            # AMQPConnectorException: connect or handshake failed (e.g. its deadline passed).
            except (AMQPConnectionError, AMQPChannelError, AMQPConnectorException, OSError) as exc:
                last = exc
                self._drop()
            if attempt < self.attempts:
                log.warning("publish of %s failed (attempt %d/%d): %r", message.task_id, attempt, self.attempts, last)
                time.sleep(self.retry_delay * attempt)
        raise PublishFailed(f"could not publish task {message.task_id} after {self.attempts} attempts: {last!r}")

    def publish(
        self,
        task: str,
        kwargs: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        traceparent: str | None = None,
    ) -> str:
        """Publish ``task`` (a ragtasks task name) with keyword arguments; returns the task id.

        The payload is not validated here (this package has no models): a payload the worker
        refuses lands in ``<queue>.dlq`` with the reason. ``ragtasks publish`` validates first.
        ``traceparent`` (W3C, e.g. from the caller's incoming request) puts the task in that trace.
        """
        return self.send(build_message(task, kwargs, task_id=task_id, traceparent=traceparent))

    # --- one-call helpers (payload fields per docs/schemas/<task>.json) -------------------------

    def publish_summarize(self, session_id: str, *, reason: str = "manual", task_id: str | None = None) -> str:
        """Summarize one chat session now (``reason``: ``manual``, ``threshold`` or ``sweep``)."""
        kwargs = {"v": PAYLOAD_VERSION, "session_id": session_id, "reason": reason}
        return self.publish(SUMMARIZE_SESSION, kwargs, task_id=task_id)

    def publish_evaluation(self, evaluation_id: str, *, task_id: str | None = None) -> str:
        """(Re-)run one recall evaluation.

        ``evaluation_id`` must name an evaluation that exists: one created by
        ``POST /v1/evaluations`` (its answer carries the id; the gateway publishes the first run
        itself) or by the nightly run. Publishing it again is safe: a finished evaluation returns
        its summary, a failed one resumes. To start a *new* evaluation, call the API.
        """
        return self.publish(RUN_EVALUATION, {"v": PAYLOAD_VERSION, "evaluation_id": evaluation_id}, task_id=task_id)

    def publish_maintain_kb(self, kb_id: str | None = None, *, task_id: str | None = None) -> str:
        """Merge duplicates and align the vector index of one knowledge base (None: every KB)."""
        kwargs: dict[str, Any] = {"v": PAYLOAD_VERSION}
        if kb_id is not None:
            kwargs["kb_id"] = kb_id
        return self.publish(MAINTAIN_KB, kwargs, task_id=task_id)

    def publish_nightly(self, kb_ids: list[str] | None = None, *, task_id: str | None = None) -> str:
        """What beat runs every night: maintain every KB, then evaluate each of ``kb_ids``
        (None: the worker's ``RAGTASKS_EVAL_KBS``; ``[]``: maintenance only)."""
        kwargs: dict[str, Any] = {"v": PAYLOAD_VERSION}
        if kb_ids is not None:
            kwargs["kb_ids"] = list(kb_ids)
        return self.publish(NIGHTLY, kwargs, task_id=task_id)

    def publish_alert(
        self,
        *,
        fingerprint: str,
        severity: str,
        title: str,
        body: str = "",
        labels: dict[str, str] | None = None,
        source: str = "api",
        status: str = "firing",
        task_id: str | None = None,
        **fields: Any,
    ) -> str:
        """Raise (``status="firing"``) or resolve one alert; alerts sharing ``fingerprint`` are one.

        ``severity``: ``critical``, ``warning`` or ``info``. Optional ``starts_at``/``ends_at``
        (ISO-8601 with offset) go in ``fields``.
        """
        kwargs = {
            "v": PAYLOAD_VERSION,
            "fingerprint": fingerprint,
            "severity": severity,
            "title": title,
            "body": body,
            "labels": dict(labels or {}),
            "source": source,
            "status": status,
            **fields,
        }
        return self.publish(RAISE_ALERT, kwargs, task_id=task_id)

    def publish_ping(self, queue: str, *, task_id: str | None = None) -> str:
        """A no-op round trip through one worker queue (``summarizer``, ``evaluator``, ``alerter``)."""
        return self.publish(f"ragtasks.{queue}.ping", {"v": PAYLOAD_VERSION}, task_id=task_id)
