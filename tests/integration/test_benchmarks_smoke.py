"""The benchmarks still run: each one's core, end to end, in a tiny configuration (seconds each).

``make bench`` measures; this only proves that every ``benchmarks/bench_*.py`` still runs against
the real services and returns sane numbers, so a benchmark cannot rot unnoticed between runs.
Marked ``bench``: ``make bench-smoke`` (first step of ``make bench``, and a step of GitHub CI)
runs them; ``make test`` leaves them out to stay within its 15 minutes.
The sizes here say nothing about performance (performance targets never live in a test). The
alerter soak runs at 120/m with 6 alerts against a robot allowing 3 a second; its real run (the
default 20/m, 30 alerts, ~90 s) stays in ``make bench``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks import (
    bench_alerter_rate,
    bench_dedup,
    bench_evaluator,
    bench_gateway,
    bench_machinery,
    bench_summarize,
    bench_summarize_fold,
    bench_text,
    machinery_costs,
)
from benchmarks.common import Stack, stack

from tests.support.fake_wecom import FakeWeCom
from tests.support.services import MongoServer, Vhost

pytestmark = pytest.mark.bench


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
    baselines = ("baseline_fastapi_insert", "baseline_fastapi_two_writes", "baseline_fastapi_one_round_trip")
    for name in ("gateway", *baselines, "baseline_fastapi_send_task"):
        numbers = report[name]
        assert isinstance(numbers, dict), report
        assert positive(numbers["requests_per_second"]) and positive(numbers["p99_ms"]), report
        assert numbers["p50_ms"] <= numbers["p99_ms"], report
    assert positive(report["throughput_ratio"]) and positive(report["throughput_ratio_vs_send_task"]), report
    for name in ("gateway", *baselines):  # CPU per request, the server's and Mongo's
        numbers = report[name]
        assert isinstance(numbers, dict) and positive(numbers["server_cpu_ms_per_request"]), report
        assert positive(numbers["mongo_cpu_ms_per_request"]) and 0 < numbers["mongo_cpu_share"] < 1, report
    for ratio in ("cpu_ratio", "cpu_ratio_two_writes", "cpu_ratio_one_round_trip"):
        assert positive(report[ratio]), report
    publish = report["publish"]
    assert isinstance(publish, dict), report
    assert positive(publish["gateway_publish_sync_per_second"]) and positive(publish["pika_confirmed_per_second"])
    assert positive(publish["ratio"]), report


def test_summarize_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless every task succeeded and every summary was committed.
    report = bench_summarize.measure(bench_stack, tasks=6, concurrency=2, latency=0.02)
    assert positive(report["ragtasks_tasks_per_second"]), report
    assert positive(report["baseline_celery_tasks_per_second"]), report
    assert positive(report["throughput_ratio"]), report
    for name in ("ragtasks", "direct_celery"):  # measure() checks the direct baseline's commits too
        numbers = report[name]
        assert isinstance(numbers, dict) and positive(numbers["worker_cpu_ms_per_summary"]), report
        assert positive(numbers["mongo_cpu_ms_per_summary"]) and 0 < numbers["mongo_cpu_share"] < 1, report
    assert positive(report["throughput_ratio_vs_direct"]) and positive(report["worker_cpu_ratio_vs_direct"]), report


def test_summarize_fold_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless every session is summarized to its end within the window.
    report = bench_summarize_fold.measure(bench_stack, sessions=2, steps=2, concurrency=1, latency=0.01, window=16_000)
    assert positive(report["single_fold_summaries_per_second"]), report
    assert positive(report["multi_step_summaries_per_second"]), report
    assert positive(report["multi_vs_single_ratio"]), report
    assert isinstance(report["largest_prompt_tokens"], int) and report["largest_prompt_tokens"] <= 16_000 - 512


def test_machinery_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless every one of the tasks left a result in Redis, in every round.
    report = bench_machinery.measure(bench_stack, tasks=20, rounds=1, concurrency=2)
    assert positive(report["ragtasks_tasks_per_second"]), report
    assert positive(report["bare_celery_tasks_per_second"]), report
    assert len(report["ragtasks_rounds"]) == len(report["bare_rounds"]) == 1, report  # type: ignore[arg-type]
    assert positive(report["throughput_ratio"]), report
    # CPU is read in clock ticks (10 ms): 20 tasks may cost less than one, so only its sign is checked.
    assert report["ragtasks_cpu_ms_per_task"] >= 0 and report["bare_cpu_ms_per_task"] >= 0, report  # type: ignore[operator]
    assert report["cpu_ratio"] is None or report["cpu_ratio"] >= 0, report  # type: ignore[operator]


def test_machinery_costs_run_in_a_process_of_their_own() -> None:
    report = machinery_costs.in_subprocess(count=50, repeat=1)
    for piece in ("consumer_checks", "payload", "signals_with_metrics_and_json_line", "signals_with_metrics_only"):
        assert isinstance(report[piece], int | float) and report[piece] >= 0, report  # type: ignore[operator]


def test_evaluator_benchmark_runs(bench_stack: Stack) -> None:
    # measure() itself fails unless the evaluation finished as "done".
    report = bench_evaluator.measure(bench_stack, questions=4, latency=0.02)
    assert report["questions"] == 4, report
    assert positive(report["questions_per_second"]), report
    assert positive(report["ideal_questions_per_second"]), report
    assert positive(report["ratio_to_ideal"]), report


def test_evaluator_http_retriever_benchmark_runs(bench_stack: Stack) -> None:
    # The http-retriever half: measure() fails unless both evaluations finished as "done".
    report = bench_evaluator.measure_retriever(bench_stack, questions=4, latency=0.02)
    assert report["benchmark"] == "evaluator_questions_per_second_http_retriever", report
    assert report["questions"] == 4 and report["retriever_latency_seconds"] == 0.02, report
    assert positive(report["questions_per_second"]) and positive(report["ideal_questions_per_second"]), report
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


def test_text_benchmark_runs() -> None:
    # Pure CPU, no services: segmenters, analyzer throughput and the BM25 builds on a tiny corpus.
    report = bench_text.measure(chunks=50, chars=5_000)
    for name in ("jieba", "rjieba"):
        numbers = report["segmenters"][name]
        assert positive(numbers["chars_per_second"]) and 0.5 < numbers["gold_f1"] <= 1.0, report
    assert positive(report["analyzer"]["zh_chars_per_second"]), report
    assert positive(report["analyzer"]["en_chars_per_second"]), report
    bm25 = report["bm25_index"]
    assert bm25["chunks"] == 50, report
    for name in ("zh_analyzer", "en_bm25s_tokenizer", "en_analyzer"):
        assert positive(bm25[name]["total_seconds"]), report


def test_dedup_benchmark_runs() -> None:
    # Pure CPU, no services: a few generated pairs on top of the Lee and zh_kb chunks.
    report = bench_dedup.measure(pairs_per_language=10)
    assert report["pairs_generated"] == {"0.90-1.00": 20, "0.60-0.85": 20}, report
    assert report["recall_at_0.90_1.00"] >= 0.9 and report["merged_below_0.85"] == 0, report
    assert positive(report["chunks_per_second"]) and report["candidates"] >= 20, report
