"""The benchmarks still run: each one's core, end to end, in a tiny configuration (seconds each).

``make bench`` measures; this only proves that every ``benchmarks/bench_*.py`` still runs against
the real services and returns sane numbers, so a benchmark cannot rot unnoticed between runs.
The sizes here say nothing about performance (performance targets never live in a test). The
alerter soak runs at 120/m with 6 alerts against a robot allowing 3 a second; its real run (the
default 20/m, 30 alerts, ~90 s) stays in ``make bench``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks import bench_alerter_rate, bench_evaluator, bench_gateway, bench_summarize
from benchmarks.common import Stack, stack

from tests.support.fake_wecom import FakeWeCom
from tests.support.services import MongoServer, Vhost


def positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.fixture
def bench_stack(mongo_server: MongoServer) -> Iterator[Stack]:
    """The benchmark's stack on the session's Mongo server, with a database and a vhost of its own.

    Not the session's vhost: tasks other tests published and nobody consumed (a failure alert,
    say) wait in its queues, and the benchmark's workers would run them and skew its counts."""
    own = Vhost.create()
    try:
        with stack(mongo_server, own) as s:
            yield s
    finally:
        own.delete()


def test_gateway_benchmark_runs(bench_stack: Stack) -> None:
    report = bench_gateway.measure(bench_stack, clients=2, total=20)
    for name in ("gateway", "baseline_fastapi_insert", "baseline_fastapi_send_task"):
        numbers = report[name]
        assert isinstance(numbers, dict), report
        assert positive(numbers["requests_per_second"]) and positive(numbers["p99_ms"]), report
        assert numbers["p50_ms"] <= numbers["p99_ms"], report
    assert positive(report["throughput_ratio"]) and positive(report["throughput_ratio_vs_send_task"]), report


def test_summarize_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless every task succeeded and every summary was committed.
    report = bench_summarize.measure(bench_stack, tasks=6, concurrency=2, latency=0.02)
    assert positive(report["ragtasks_tasks_per_second"]), report
    assert positive(report["baseline_celery_tasks_per_second"]), report
    assert positive(report["throughput_ratio"]), report


def test_evaluator_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless the evaluation finished as "done".
    report = bench_evaluator.measure(bench_stack, questions=4, latency=0.02)
    assert report["questions"] == 4, report
    assert positive(report["questions_per_second"]), report
    assert positive(report["ideal_questions_per_second"]), report
    assert positive(report["ratio_to_ideal"]), report


def test_alerter_rate_soak_runs_at_a_fast_rate(bench_stack: Stack, wecom: FakeWeCom) -> None:
    # 120/m is one message per 0.5 s; a robot allowing 3 per second leaves a half-interval of
    # slack for a busy machine (the soak's own robot, 20 per 60 s at 20/m, has none to spare).
    wecom.limit_per_window, wecom.window_seconds = 3, 1.0
    report = bench_alerter_rate.measure(bench_stack, 6, rate="120/m", robot=wecom)
    assert report["violations"] == [], report
    assert report["delivered"] == 6 and len(wecom.messages()) == 6, report
    assert 0 < report["max_in_any_window"] <= 3, report
    assert report["errcode_45009"] == 0, report
    assert isinstance(report["window_margin_seconds"], float), report
    assert positive(report["min_gap_seconds"]), report
    assert len(report["process_shares"]) == 2 and sum(report["process_shares"]) == 6, report
