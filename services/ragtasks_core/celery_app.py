"""The Celery app factory: every reliability setting of ragtasks, chosen deliberately, in one place.

Why these settings:
- JSON only (``accept_content=["json"]``): no pickle can ever be deserialized.
- ``task_acks_late`` + ``task_reject_on_worker_lost`` + prefetch 1: a message is acked after
  the work is done, so a crashed worker's task is redelivered; every task is idempotent.
- Quorum queues with ``x-delivery-limit``: RabbitMQ counts deliveries, and a message that keeps
  killing its worker is dead-lettered after ``delivery_limit`` attempts instead of looping.
- Quorum queues also give Celery's *native delayed delivery*: a retry countdown waits inside the
  broker (TTL queues on topic exchanges), not unacked in the worker, so RabbitMQ's
  ``consumer_timeout`` (30 min by default) can never kill a long backoff.
- Publisher confirms (``confirm_publish``): ``send_task`` returns only once the broker has the
  message.
- ``result_expires``: the Redis backend never fills up.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery, signals
from kombu import Connection, Exchange
from kombu import Queue as KombuQueue

from . import redis_client, result_backends
from .contract import MAINTENANCE_QUEUE, TASK_ROUTES, Queue
from .settings import Settings

TASK_EXCHANGE = "ragtasks"
DEAD_LETTER_EXCHANGE = "ragtasks.dlx"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"


def queue_names() -> list[str]:
    """Every task queue: one per worker, and ``maintenance`` (beat's tasks, consumed by every worker)."""
    return [queue.value for queue in Queue] + [MAINTENANCE_QUEUE]


def task_queues(settings: Settings) -> list[KombuQueue]:
    # A topic exchange: native delayed delivery cannot route through direct exchanges.
    exchange = Exchange(TASK_EXCHANGE, type="topic", durable=True)
    return [
        KombuQueue(
            name,
            exchange,
            routing_key=name,
            durable=True,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": settings.delivery_limit,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": name,
            },
        )
        for name in queue_names()
    ]


def dead_letter_queues() -> list[KombuQueue]:
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
    return [
        KombuQueue(
            dead_letter_queue_name(name),
            exchange,
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        for name in queue_names()
    ]


def create_celery(settings: Settings, *, main: str = "ragtasks", waits_on_results: bool = True) -> Celery:
    """Build the Celery app shared by the gateway (publisher) and every worker.

    ``waits_on_results=False`` (the gateway, beat): a process that never calls ``AsyncResult.get()``
    does not subscribe to each published task's result channel (:mod:`.result_backends`).
    """
    backend = redis_client.celery_result_backend(settings)  # Sentinel: sentinel:// + master_name
    url = backend.pop("result_backend")
    if not waits_on_results:
        url = result_backends.publisher_backend_url(url)
    app = Celery(main, broker=settings.broker_url, backend=url, set_as_current=True)
    app.conf.update(
        **backend,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_soft_time_limit=settings.task_soft_time_limit_seconds,
        task_time_limit=settings.task_time_limit_seconds,
        result_expires=settings.result_expires_seconds,
        result_extended=True,
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
        worker_max_memory_per_child=settings.worker_max_memory_per_child_kb,
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        task_queues=task_queues(settings),
        task_routes=TASK_ROUTES,
        task_default_exchange=TASK_EXCHANGE,
        task_default_exchange_type="topic",
        task_default_queue=Queue.SUMMARIZER.value,
        task_create_missing_queues=False,
        # Task events cost a confirmed publish each; off unless asked for (Flower enables the
        # workers' own events at run time). See Settings.worker_send_task_events.
        worker_send_task_events=settings.worker_send_task_events,
        task_send_sent_event=settings.task_send_sent_event,
        # Keep our own logging set-up.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        timezone=settings.timezone,
        enable_utc=True,
        # A warm shutdown waits for running tasks; a cancelled long-running task is requeued.
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    install_publish_stamp()
    return app


def broker_reachable(broker: str | Connection, timeout: float = 3.0) -> bool:
    """Whether the broker answers; readiness probes ask this, they must not hang on a dead broker.

    Given a URL: one short connection attempt, closed again. Given a long-lived ``Connection``
    (the gateway's ``/readyz``): one round trip on it, reconnecting it once if it has dropped,
    so a probe called in a loop never opens a connection per call."""
    if isinstance(broker, str):
        try:
            with Connection(broker, connect_timeout=timeout) as conn:
                conn.ensure_connection(max_retries=1)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False
    if broker.connected:
        try:
            # ``connected`` does not notice a broker that went away: a passive declare of the
            # exchange every vhost has is a real round trip.
            broker.default_channel.exchange_declare("amq.direct", "direct", passive=True)
            return True
        except Exception:  # noqa: BLE001 - a dead connection: drop it and reconnect below
            broker.collect()
    try:
        broker.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


# The queue-wait histogram needs the publish time. Every Python producer (the gateway, beat, the
# workers' own retries and fan-outs, the tests' clients) builds its app with ``create_celery``,
# so the factory installs the stamp; pika producers set the same header themselves.
PUBLISHED_AT_HEADER = "ragtasks_published_at"


def install_publish_stamp() -> None:
    """Stamp every task this process publishes with its publish time (idempotent).

    Celery's signals are process-wide: one connection serves every app of the process.
    """
    signals.before_task_publish.connect(_stamp_publish_time, weak=False, dispatch_uid="ragtasks.publish_stamp")


def _stamp_publish_time(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())
