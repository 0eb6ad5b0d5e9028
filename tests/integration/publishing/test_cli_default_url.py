"""``ragtasks dlq`` and ``ragtasks publish`` (the real console script) with the project's own default
broker URL, ``amqp://guest:guest@127.0.0.1:5672//`` -- the default vhost ``/`` as Celery writes it
(plain pika reads ``//`` as an empty vhost and RabbitMQ answers "vhost not found") -- and with a
``;`` failover list whose first host refuses connections.

The URL is built from the run's broker (host, port and credentials of ``RAGTASKS_TEST_BROKER_URL``
or the machine's RabbitMQ) with the path ``//``. The default vhost is shared, so the test declares
only the queues and exchanges it lacks (with the workers' own arguments) and deletes exactly those
afterwards, and it takes back every message it put there.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pika
import pytest
from kombu import Connection
from pika.exceptions import ChannelClosedByBroker

from ragtasks_core.celery_app import DEAD_LETTER_EXCHANGE, TASK_EXCHANGE, dead_letter_queues, task_queues
from ragtasks_core.settings import Settings
from ragtasks_publisher import build_message
from ragtasks_publisher.urls import pika_parameters
from tests.integration.publishing.helpers import ragtasks
from tests.support.procs import free_port
from tests.support.services import Vhost

# A CLI call that connects to a refused host first must still be quick: refusals are immediate.
CLI_SECONDS = 20


def default_vhost_url(run_url: str) -> str:
    parts = urlsplit(run_url.split(";")[0])
    return f"amqp://{parts.username}:{parts.password}@{parts.hostname}:{parts.port or 5672}//"


def _exists(connection: pika.BlockingConnection, kind: str, name: str) -> bool:
    channel = connection.channel()
    try:
        if kind == "queue":
            channel.queue_declare(name, passive=True)
        else:
            channel.exchange_declare(name, passive=True)
        return True
    except ChannelClosedByBroker:
        return False
    finally:
        if channel.is_open:
            channel.close()


@pytest.fixture
def default_url(vhost: Vhost) -> Iterator[str]:
    """The run's broker with ``//``; the topology the CLI needs exists on ``/`` while the test runs."""
    url = default_vhost_url(vhost.broker_url)
    queues = [*task_queues(Settings()), *dead_letter_queues()]
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        new_exchanges = [n for n in (TASK_EXCHANGE, DEAD_LETTER_EXCHANGE) if not _exists(connection, "exchange", n)]
        new_queues = [q for q in queues if not _exists(connection, "queue", q.name)]
        with Connection(url) as conn:  # kombu: exactly the declarations the workers make
            for queue in new_queues:
                queue(conn.default_channel).declare()
        yield url
        channel = connection.channel()
        for queue in new_queues:
            channel.queue_delete(queue.name)
        for exchange in new_exchanges:
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def take(url: str, queue: str, task_id: str) -> bool:
    """Remove the message with this task id from ``queue`` (others are put back); was it there?"""
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        channel = connection.channel()
        found = False
        for _ in range(int(channel.queue_declare(queue, passive=True).method.message_count)):
            method, props, _body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            if (props.headers or {}).get("id") == task_id:
                channel.basic_ack(method.delivery_tag)
                found = True
                break
        with contextlib.suppress(ChannelClosedByBroker):
            channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
        return found
    finally:
        connection.close()


def cli_env(broker_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTASKS_")}
    return {
        **env,
        "RAGTASKS_ENVIRONMENT": "development",
        "RAGTASKS_BROKER_URL": broker_url,
        "RAGTASKS_LOG_JSON": "false",
    }


def dead_letter(url: str) -> str:
    """Put one dead letter into ``summarizer.dlq`` (through the dead-letter exchange); its task id."""
    message = build_message("ragtasks.summarizer.ping", {"v": 1})
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2, headers=message.headers)
        channel.basic_publish(DEAD_LETTER_EXCHANGE, "summarizer", message.body, props, mandatory=True)
    finally:
        connection.close()
    return message.task_id


def check_dlq_and_publish(cli_url: str, url: str) -> None:
    """``ragtasks dlq list summarizer`` sees a dead letter; ``ragtasks publish`` lands a task."""
    env = cli_env(cli_url)
    dead_id = dead_letter(url)
    try:
        started = time.monotonic()
        listed = json.loads(ragtasks(env, "dlq", "list", "summarizer", "--json", "--limit", "1000").stdout)
        assert listed["queue"] == "summarizer.dlq" and listed["count"] >= 1
        assert dead_id in [m["task_id"] for m in listed["messages"]]
        task_id = f"default-url-{uuid.uuid4().hex[:8]}"
        args = ["publish", "ragtasks.summarizer.ping", "--json", '{"v": 1}', "--task-id", task_id]
        assert ragtasks(env, *args).stdout.strip() == task_id
        assert time.monotonic() - started < CLI_SECONDS
    finally:
        took_dead_letter = take(url, "summarizer.dlq", dead_id)  # the listing put it back
    assert took_dead_letter
    assert take(url, "summarizer", task_id), "the published task reached the summarizer queue"


def test_cli_with_the_default_url(default_url: str) -> None:
    assert Settings.model_fields["broker_url"].default.endswith(":5672//")  # the form under test
    check_dlq_and_publish(default_url, default_url)


def test_cli_with_a_failover_list_whose_first_host_is_down(default_url: str) -> None:
    refused = default_url.replace(f":{urlsplit(default_url).port}//", f":{free_port()}//")
    check_dlq_and_publish(f"{refused};{default_url}", default_url)
    # Only the dead host: a clear failure, not a hang.
    failed = ragtasks(cli_env(refused), "dlq", "list", "summarizer", check=False)
    assert failed.returncode != 0 and "broker error" in failed.stderr
