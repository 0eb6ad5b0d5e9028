"""The management endpoint is derived from the broker URL by the one parser pika tools use; the
depth metrics cover every task queue of the contract."""

from __future__ import annotations

import pytest

from ragtasks_core.contract import TASK_QUEUES
from ragtasks_core.queue_metrics import QueueCollector, management_endpoint
from ragtasks_core.settings import Settings


@pytest.mark.parametrize(
    ("broker_url", "vhost"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "/"),
        ("amqp://guest:guest@127.0.0.1:5672", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/prod", "prod"),
        ("amqp://guest:guest@127.0.0.1:5672/a%2Fb", "a/b"),
    ],
)
def test_the_vhost_is_read_as_kombu_reads_it(broker_url: str, vhost: str) -> None:
    base, creds, got = management_endpoint(Settings(broker_url=broker_url))
    assert (base, creds, got) == ("http://127.0.0.1:15672", ("guest", "guest"), vhost)


def test_a_failover_list_asks_the_first_host() -> None:
    url = "amqp://u:p%40ss@rabbit-a:5672/v;amqp://u:p%40ss@rabbit-b:5672/v"
    assert management_endpoint(Settings(broker_url=url)) == ("http://rabbit-a:15672", ("u", "p@ss"), "v")


def test_an_explicit_management_url_keeps_the_brokers_vhost() -> None:
    settings = Settings(broker_url="amqp://u:p@rabbit:5672/v", rabbitmq_management_url="https://admin:s3@mgmt:443")
    assert management_endpoint(settings) == ("https://mgmt:443", ("admin", "s3"), "v")


class _Answered(QueueCollector):
    """The collector with the management API's answer given (no HTTP in a unit test)."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        super().__init__(Settings())
        self._rows = rows

    def _fetch(self) -> list[dict[str, object]]:
        return self._rows


def _samples(collector: QueueCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def test_depth_and_consumers_cover_every_task_queue_including_maintenance() -> None:
    rows: list[dict[str, object]] = [
        {"name": "maintenance", "messages_ready": 3, "messages_unacknowledged": 1, "consumers": 6},
        {"name": "summarizer", "messages_ready": 2, "messages_unacknowledged": 0, "consumers": 2},
        {"name": "maintenance.dlq", "messages_ready": 9, "messages_unacknowledged": 0, "consumers": 0},
    ]
    samples = _samples(_Answered(rows))
    assert samples[("ragtasks_queue_messages", ("maintenance", "ready"))] == 3
    assert samples[("ragtasks_queue_messages", ("maintenance", "unacknowledged"))] == 1
    assert samples[("ragtasks_queue_consumers", ("maintenance",))] == 6
    # Every queue of the contract has its series (zero when the broker has not declared it yet),
    # and nothing else does: DLQs are read with `ragtasks dlq`, not labelled here.
    queues = {labels[0] for name, labels in samples if name == "ragtasks_queue_consumers"}
    assert queues == set(TASK_QUEUES) and "maintenance" in queues
    assert samples[("ragtasks_queue_messages", ("alerter", "ready"))] == 0
    assert samples[("ragtasks_queue_metrics_up", ())] == 1
