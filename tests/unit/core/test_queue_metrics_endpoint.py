"""The management endpoint is derived from the broker URL by the one parser pika tools use."""

from __future__ import annotations

import pytest

from ragtasks_core.queue_metrics import management_endpoint
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
