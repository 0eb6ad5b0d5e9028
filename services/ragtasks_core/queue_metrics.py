"""Queue depth and consumers per queue, read from RabbitMQ's management API at scrape time.

``ragtasks_queue_messages{queue,state}`` (state ready|unacknowledged) and
``ragtasks_queue_consumers{queue}``, for every task queue of ``contract.TASK_QUEUES`` (the
workers' own and ``maintenance``, where beat's periodic work waits). Unacknowledged messages
matter: with acks_late every task being worked on is unacked, so "ready" alone under-reports a
busy queue. Results are cached for a
few seconds so several scrapers do not hammer the management API.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

import httpx
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ragtasks_publisher.urls import parse_broker_url

from .contract import TASK_QUEUES
from .settings import Settings

CACHE_SECONDS = 5.0


def management_endpoint(settings: Settings) -> tuple[str, tuple[str, str], str]:
    """(base URL, basic-auth credentials, vhost) of the management API.

    The broker URL is read by the one parser every pika tool uses (``//`` and ``/%2F`` are the
    default vhost; of a ``;`` failover list, the first entry's host is asked)."""
    broker = parse_broker_url(settings.broker_url)[0]
    if settings.rabbitmq_management_url:
        mgmt = urlsplit(settings.rabbitmq_management_url)
        base = f"{mgmt.scheme}://{mgmt.hostname}:{mgmt.port or 15672}"
        creds = (unquote(mgmt.username or "") or broker.userid, unquote(mgmt.password or "") or broker.password)
    else:
        base = f"http://{broker.host}:15672"
        creds = (broker.userid, broker.password)
    return base, creds, broker.virtual_host


class QueueCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self._base, self._auth, self._vhost = management_endpoint(settings)
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def _fetch(self) -> list[dict[str, object]]:
        url = f"{self._base}/api/queues/{quote(self._vhost, safe='')}"
        response = httpx.get(
            url,
            auth=self._auth,
            timeout=3.0,
            params={"columns": "name,messages_ready,messages_unacknowledged,consumers"},
        )
        response.raise_for_status()
        data: list[dict[str, object]] = response.json()
        return data

    def _families(self) -> list[GaugeMetricFamily]:
        messages = GaugeMetricFamily(
            "ragtasks_queue_messages", "Messages in a task queue, by state.", labels=["queue", "state"]
        )
        consumers = GaugeMetricFamily("ragtasks_queue_consumers", "Consumers of a task queue.", labels=["queue"])
        up = GaugeMetricFamily("ragtasks_queue_metrics_up", "1 if the RabbitMQ management API answered.")
        try:
            rows = {str(row["name"]): row for row in self._fetch()}
        except (httpx.HTTPError, ValueError, KeyError):
            up.add_metric([], 0)
            return [up]
        for queue in TASK_QUEUES:
            row = rows.get(queue, {})
            messages.add_metric([queue, "ready"], float(row.get("messages_ready") or 0))  # type: ignore[arg-type]
            messages.add_metric([queue, "unacknowledged"], float(row.get("messages_unacknowledged") or 0))  # type: ignore[arg-type]
            consumers.add_metric([queue], float(row.get("consumers") or 0))  # type: ignore[arg-type]
        up.add_metric([], 1)
        return [messages, consumers, up]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
            self._cached = (now, self._families())
        return list(self._cached[1])
