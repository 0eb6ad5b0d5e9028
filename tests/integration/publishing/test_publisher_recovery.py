"""The pika publisher recovers when RabbitMQ closes its connection under it (real broker, rabbitmqctl)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from ragtasks_publisher import TaskPublisher
from tests.support.procs import wait_until
from tests.support.services import run_ctl


def connection_pids(name: str) -> list[str]:
    """Broker-side pids of the connections whose client-provided name is ``name``."""
    out = run_ctl("list_connections", "pid", "client_properties", "-q", "-s")
    return [line.split("\t", 1)[0] for line in out.splitlines() if f'"{name}"' in line]


@pytest.fixture
def tap(worker_env: dict[str, str]) -> Iterator[tuple[pika.adapters.blocking_connection.BlockingChannel, str]]:
    """A private queue bound to the task exchange with routing key ``alerter``: sees what is published."""
    connection = pika.BlockingConnection(pika.URLParameters(worker_env["RAGTASKS_BROKER_URL"]))
    channel = connection.channel()
    channel.exchange_declare("ragtasks", "topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "ragtasks", routing_key="alerter")
    yield channel, queue
    connection.close()


def _drain(channel: Any, queue: str) -> list[str]:
    ids = []
    while True:
        method, properties, _ = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return ids
        ids.append(properties.headers["id"])


def test_publish_after_the_broker_closed_the_connection_recovers(
    worker_env: dict[str, str], tap: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ragtasks_publisher.client")
    channel, queue = tap
    name = f"recovery-test-{uuid.uuid4().hex[:8]}"
    with TaskPublisher(worker_env["RAGTASKS_BROKER_URL"], connection_name=name, retry_delay=0.1) as pub:
        first = pub.publish_ping("alerter")
        [pid] = connection_pids(name)
        run_ctl("close_connection", pid, "test: closed under the publisher")
        # (The broker's Connection.Close waits in the socket until the publisher next talks to it.)
        second = pub.publish_ping("alerter")  # the first try meets the close; it reconnects
        wait_until(lambda: pid not in connection_pids(name), 10, 0.2, "the old connection to go")
        [new_pid] = connection_pids(name)
        third = pub.publish_ping("alerter")  # and keeps using the new one
        assert connection_pids(name) == [new_pid]
    retries = [r.getMessage() for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(retries) == 1 and "1/3" in retries[0] and "CONNECTION_FORCED" in retries[0], retries
    # Confirmed means enqueued: each is in the queue once (the closed connection published nothing).
    assert sorted(_drain(channel, queue)) == sorted([first, second, third])
