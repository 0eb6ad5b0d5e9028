"""tests/support/prometheus.py against a real scrape target (prometheus_client on a free port)."""

from __future__ import annotations

import socket
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.support.prometheus import PrometheusError, PrometheusServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_scrapes_targets_and_answers_queries() -> None:
    registry = CollectorRegistry()
    counter = Counter("ragtasks_tasks_total", "t", ["task", "queue", "outcome"], registry=registry)
    counter.labels("ragtasks.summarizer.ping", "summarizer", "success").inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with PrometheusServer([f"127.0.0.1:{port}"], scrape_interval="1s") as prom:
            prom.wait_for(lambda: prom.targets_health().get(f"127.0.0.1:{port}") == "up", timeout=15)
            assert prom.value('sum(ragtasks_tasks_total{outcome="success"})') == 3
            now = time.time()
            series = prom.query_range("up", now - 5, now, 1)
            assert series and series[0]["metric"]["job"] == "ragtasks"
            with pytest.raises(PrometheusError, match="parse error"):
                prom.query("rate(up)")
            log = prom.log_path
        assert not log.exists(), "stop() removes the temp dir"
    finally:
        server.shutdown()
        thread.join(5)
