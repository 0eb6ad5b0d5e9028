"""A message whose consumer keeps dying goes to the DLQ via x-delivery-limit; replay runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pika
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from ragtasks_publisher import TaskPublisher
from tests.integration.helpers import wait_task
from tests.integration.publishing.helpers import dlq_list, queue_depth, ragtasks


def _take_and_die(url: str, queue: str) -> bool:
    """What a worker killed mid-task does to its message: delivered, never acked, connection gone."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    method, _, _ = connection.channel().basic_get(queue, auto_ack=False)
    connection.close()
    return method is not None


def test_delivery_limit_dead_letters_then_replay_runs_it(
    worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings]
) -> None:
    env, url = worker_env, worker_env["RAGTASKS_BROKER_URL"]
    start_worker("evaluator", env, concurrency=1).stop()  # declares the topology, then goes away
    ragtasks(env, "dlq", "purge", "evaluator", "--yes")
    with TaskPublisher(url) as publisher:
        task_id, other_id = publisher.publish_ping("evaluator"), publisher.publish_ping("evaluator")
    deliveries = 0
    while _take_and_die(url, "evaluator"):
        deliveries += 1
        assert deliveries <= 20, "x-delivery-limit never dead-lettered the messages"
    assert deliveries == 12  # RAGTASKS_DELIVERY_LIMIT=5: each one's 6th failed delivery dead-letters it

    listing = dlq_list(env, "evaluator")
    assert sorted(item["task_id"] for item in listing["messages"]) == sorted([task_id, other_id])
    for item in listing["messages"]:
        assert item["task"] == "ragtasks.evaluator.ping"
        assert item["reason"].startswith("delivery limit reached"), item

    start_worker("evaluator", env, concurrency=1)
    assert ragtasks(env, "dlq", "replay", "evaluator", "--id", "no-such-id").stdout.startswith("replayed 0")
    assert ragtasks(env, "dlq", "replay", "evaluator", "--id", task_id).stdout.startswith("replayed 1")
    with TestClient(create_app(make_settings())) as client:
        assert wait_task(client, task_id)["state"] == "SUCCESS"
        assert queue_depth(url, "evaluator.dlq") == 1  # only the one asked for
        # Without --id: everything left in the dead-letter queue.
        assert ragtasks(env, "dlq", "replay", "evaluator").stdout.startswith("replayed 1")
        assert wait_task(client, other_id)["state"] == "SUCCESS"
    assert queue_depth(url, "evaluator.dlq") == 0
