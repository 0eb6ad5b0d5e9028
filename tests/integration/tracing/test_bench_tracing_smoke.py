"""benchmarks/bench_tracing.py still runs: a tiny configuration, end to end, against the real services.

Marked ``bench`` (``make bench-smoke``), like ``tests/integration/test_benchmarks_smoke.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks import bench_tracing
from benchmarks.common import Stack, stack

from tests.support.services import MongoServer, Vhost

pytestmark = pytest.mark.bench


@pytest.fixture
def bench_stack(mongo_server: MongoServer) -> Iterator[Stack]:
    """A vhost of its own: tasks other tests left in the session's queues would skew the counts."""
    own = Vhost.create()
    try:
        with stack(mongo_server, own) as s:
            yield s
    finally:
        own.delete()


def test_tracing_benchmark_runs(bench_stack: Stack) -> None:
    report = bench_tracing.measure(bench_stack, tasks=20, rounds=1, concurrency=2)
    rates = report["tasks_per_second"]
    assert isinstance(rates, dict) and set(rates) == {"off", "sampled_1.0", "sampled_0.1"}, report
    assert all(rate > 0 for rate in rates.values()), report
    spans = report["task_spans_exported"]
    assert isinstance(spans, dict), report
    # Off exports nothing; at 1.0 every task's span arrives (flushed when the children stop).
    assert spans["off"] == 0 and spans["sampled_1.0"] == 20, report
    assert spans["sampled_0.1"] <= 20, report
