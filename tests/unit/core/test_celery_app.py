"""The Celery app factory: every reliability setting comes from ``Settings`` (no broker needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

from ragtasks_core.celery_app import DEAD_LETTER_EXCHANGE, create_celery
from ragtasks_core.contract import MAINTENANCE_QUEUE, SCHEDULED_TASKS, Queue
from ragtasks_core.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("RAGTASKS_"):
            monkeypatch.delenv(key)


@pytest.fixture
def app() -> Iterator[Celery]:
    settings = Settings(
        broker_url="amqp://u:p@rabbit.invalid:5672/v",
        result_backend="redis://redis.invalid:6379/3",
        task_soft_time_limit_seconds=123,
        task_time_limit_seconds=150,
        result_expires_seconds=4567,
        worker_max_tasks_per_child=77,
        worker_max_memory_per_child_kb=98_765,
        delivery_limit=3,
        timezone="UTC",
    )
    app = create_celery(settings)
    yield app
    app.close()


def test_values_come_from_settings(app: Celery) -> None:
    conf = app.conf
    assert conf.broker_url == "amqp://u:p@rabbit.invalid:5672/v"
    assert conf.result_backend == "redis://redis.invalid:6379/3"
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (123, 150)
    assert conf.result_expires == 4567
    assert conf.worker_max_tasks_per_child == 77
    assert conf.worker_max_memory_per_child == 98_765
    assert conf.timezone == "UTC"
    for queue in conf.task_queues:
        assert queue.queue_arguments["x-delivery-limit"] == 3


def test_defaults() -> None:
    settings = Settings()
    assert settings.result_expires_seconds == 86_400  # one day
    app = create_celery(settings)
    try:
        assert app.conf.result_expires == 86_400
        assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (600, 660)
    finally:
        app.close()


def test_json_only_and_publisher_confirms(app: Celery) -> None:
    conf = app.conf
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert list(conf.result_accept_content) == ["json"]
    assert conf.broker_transport_options["confirm_publish"] is True


def test_late_acks_and_prefetch_one(app: Celery) -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_track_started is True


def test_quorum_queues_with_dead_letters(app: Celery) -> None:
    queues = {q.name: q for q in app.conf.task_queues}
    assert set(queues) == {q.value for q in Queue} | {MAINTENANCE_QUEUE}
    for name, queue in queues.items():
        args = queue.queue_arguments
        assert args["x-queue-type"] == "quorum"
        assert args["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
        assert args["x-dead-letter-routing-key"] == name
        assert queue.exchange.type == "topic"  # native delayed delivery needs topic exchanges


def test_beats_tasks_go_to_the_maintenance_queue(app: Celery) -> None:
    routes = app.conf.task_routes
    assert {
        "ragtasks.summarizer.sweep_outbox",
        "ragtasks.summarizer.delete_idle_sessions",
        "ragtasks.evaluator.nightly",
        "ragtasks.alerter.flush_alerts",
    } == SCHEDULED_TASKS
    for task in SCHEDULED_TASKS:
        assert routes[task] == {"queue": MAINTENANCE_QUEUE, "routing_key": MAINTENANCE_QUEUE}
    assert routes["ragtasks.summarizer.summarize_session"]["queue"] == "summarizer"
    assert routes["ragtasks.evaluator.maintain_kb"]["queue"] == "evaluator"  # fan-out work stays with its worker
