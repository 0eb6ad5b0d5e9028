"""The ``maintenance`` queue (beat's periodic work, consumed by every worker) is known to the admin tools.

``ragtasks dlq list|replay|purge maintenance`` (the real console script, the real broker) shows what a
worker refused on that queue with its reason, replays a dead letter onto it, and purges it; the
queue-depth metrics (``ragtasks_queue_messages``/``_consumers``, read from the real management API)
report it like the workers' own queues. The worker used is the alerter's: not the owner of the
summarizer's sweep, to show any worker runs maintenance work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pika
from celery import Celery
from celery.result import AsyncResult

from ragtasks_core import dlq
from ragtasks_core.celery_app import DEAD_LETTER_EXCHANGE
from ragtasks_core.contract import MAINTENANCE_QUEUE, TaskName
from ragtasks_core.queue_metrics import QueueCollector
from ragtasks_core.settings import Settings
from ragtasks_publisher import build_message
from tests.integration.publishing.helpers import dlq_list, queue_depth, ragtasks, raw_publish
from tests.support.procs import wait_until

SWEEP = TaskName.SWEEP_OUTBOX.value
DLQ = f"{MAINTENANCE_QUEUE}.dlq"


def _publish(url: str, task: str, kwargs: dict[str, Any], *, body: bytes | None = None) -> str:
    message = build_message(task, kwargs)
    raw_publish(url, MAINTENANCE_QUEUE, body or message.body, headers=message.headers, content_type="application/json")
    return message.task_id


def _dead_letter(url: str, task: str) -> str:
    """A valid task message put straight into ``maintenance.dlq`` (as the broker's delivery limit would)."""
    message = build_message(task, {"v": 1})
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2, headers=message.headers)
        channel.basic_publish(DEAD_LETTER_EXCHANGE, MAINTENANCE_QUEUE, message.body, props, mandatory=True)
    finally:
        connection.close()
    return message.task_id


def test_dlq_cli_lists_replays_and_purges_the_maintenance_queue(
    worker_env: dict[str, str], start_worker: Any, celery_client: Celery
) -> None:
    env, url = worker_env, worker_env["RAGTASKS_BROKER_URL"]
    start_worker("alerter", env, concurrency=1)  # declares the topology, consumes alerter + maintenance
    dlq.purge(url, MAINTENANCE_QUEUE)

    v99 = _publish(url, SWEEP, {"v": 99})
    unknown = _publish(url, "ragtasks.summarizer.no_such_task", {"v": 1})
    null_body = _publish(url, SWEEP, {"v": 1}, body=b"null")
    wait_until(lambda: queue_depth(url, DLQ) >= 3, 60, 0.5, "three dead letters in maintenance.dlq")

    listing = dlq_list(env, MAINTENANCE_QUEUE)
    print(json.dumps(listing, indent=1))
    assert listing["queue"] == DLQ and listing["count"] == 3, listing
    by_id = {m["task_id"]: m for m in listing["messages"]}
    assert "unknown payload version v=99" in by_id[v99]["reason"]
    assert "unknown task name 'ragtasks.summarizer.no_such_task'" in by_id[unknown]["reason"]
    assert "the body must be the JSON array" in by_id[null_body]["reason"]
    assert {m["routing_key"] for m in listing["messages"]} == {MAINTENANCE_QUEUE}
    text = ragtasks(env, "dlq", "list", DLQ).stdout  # the human listing, by the DLQ's own name
    assert text.startswith(f"{DLQ}: 3 message(s)") and v99 in text

    # A valid sweep that died (say, at the delivery limit) is replayed onto maintenance and runs.
    sweep_id = _dead_letter(url, SWEEP)
    wait_until(lambda: queue_depth(url, DLQ) == 4, 10, 0.2, "the dead sweep in maintenance.dlq")
    replayed = ragtasks(env, "dlq", "replay", MAINTENANCE_QUEUE, "--id", sweep_id).stdout
    assert f"replayed 1 message(s) from {DLQ}" in replayed
    result = AsyncResult(sweep_id, app=celery_client)
    assert isinstance(result.get(timeout=60), dict)  # the sweep's counts
    assert result.queue == MAINTENANCE_QUEUE  # result_extended records the queue it ran from
    assert queue_depth(url, DLQ) == 3  # the other three stay

    refused = ragtasks(env, "dlq", "purge", MAINTENANCE_QUEUE, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert f"purged 3 message(s) from {DLQ}" in ragtasks(env, "dlq", "purge", MAINTENANCE_QUEUE, "--yes").stdout
    assert queue_depth(url, DLQ) == 0
    unknown_queue = ragtasks(env, "dlq", "list", "nope", check=False)
    assert unknown_queue.returncode != 0 and "alerter, maintenance" in unknown_queue.stderr


def test_queue_depth_metrics_report_the_maintenance_queue(
    worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings]
) -> None:
    env, url = worker_env, worker_env["RAGTASKS_BROKER_URL"]
    worker = start_worker("evaluator", env, concurrency=1)  # declares the topology
    collector = QueueCollector(make_settings())

    def samples() -> dict[tuple[str, tuple[str, ...]], float]:
        collector._cached = None  # each probe reads the management API afresh, not the 5 s cache
        return {(s.name, tuple(s.labels.values())): s.value for family in collector.collect() for s in family.samples}

    # The worker consumes maintenance besides its own queue.
    wait_until(
        lambda: samples().get(("ragtasks_queue_consumers", (MAINTENANCE_QUEUE,))) == 1,
        60,
        1.0,
        "the worker's consumer on maintenance in the management API",
    )
    worker.stop()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_purge(MAINTENANCE_QUEUE)
        for _ in range(3):
            _publish(url, TaskName.SUMMARIZER_PING.value, {"v": 1})
        # The management API refreshes its statistics every few seconds.
        wait_until(
            lambda: samples().get(("ragtasks_queue_messages", (MAINTENANCE_QUEUE, "ready"))) == 3,
            60,
            1.0,
            "three ready messages on maintenance",
            detail=lambda: str(samples()),
        )
        got = samples()
        assert got[("ragtasks_queue_consumers", (MAINTENANCE_QUEUE,))] == 0
        assert got[("ragtasks_queue_metrics_up", ())] == 1
    finally:
        connection.channel().queue_purge(MAINTENANCE_QUEUE)  # nothing left for another test's workers
        connection.close()
