"""The worker machinery's rate with tracing off, on at sampling 1.0 and on at 0.1, in one run.

Each round drains N pre-published ``ragtasks.summarizer.ping`` tasks with ``ragtasks worker
summarizer`` three times (``benchmarks.bench_machinery.ragtasks_round``, the same measurement):

- ``off``: no ``OTEL_*`` endpoint, so no provider, no exporter, no instrumentation;
- ``sampled_1.0`` / ``sampled_0.1``: ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a local OTLP/HTTP
  receiver (``tests/support/otlp_receiver.py``, in this process: it decodes what a collector
  would), ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` with the ratio as its argument. The
  tasks arrive without a parent (the publisher here is untraced), so the ratio decides per task.

The modes alternate within each round so a slow spell of the shared machine hits all three; the
median of ``--rounds`` rounds is reported per mode, with its ratio to ``off`` and the task spans
the receiver got (about N x rounds at 1.0, a tenth of that at 0.1, none when off), and the
worker's CPU per task (utime+stime of the worker tree over the drain), steadier than the rate on
a shared machine.

    .venv/bin/python -m benchmarks.bench_tracing [--tasks 2000] [--rounds 3] [--concurrency 2]
"""

from __future__ import annotations

import statistics
import sys

from tests.support.otlp_receiver import OtlpReceiver

from benchmarks.bench_machinery import ragtasks_round
from benchmarks.common import Stack, main_for

TASK_SPAN = "run/ragtasks.summarizer.ping"
RATIOS = {"sampled_1.0": "1.0", "sampled_0.1": "0.1"}


def mode_env(mode: str, receiver: OtlpReceiver) -> dict[str, str]:
    """The worker's extra environment for one mode; each traced mode names its own service."""
    if mode == "off":
        return {}
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.origin,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": RATIOS[mode],
        "OTEL_SERVICE_NAME": f"bench-{mode}",
    }


def _round(s: Stack, tasks: int, concurrency: int, env: dict[str, str]) -> tuple[float, float]:
    """One drain, from an empty queue: a task the last round's worker ran but had not acked when it
    stopped comes back to the queue, and would run (and be counted) in this round's mode. A round
    whose worker could not even reach the broker (a busy shared machine) is run once more."""
    s.vhost.purge_work_queues()
    try:
        return ragtasks_round(s, tasks, concurrency, env=env)
    except RuntimeError as exc:  # procs.start_worker: "worker summarizer exited: ..."
        print(f"bench_tracing: round repeated after {str(exc)[:200]!r}", file=sys.stderr, flush=True)
        s.vhost.purge_work_queues()
        return ragtasks_round(s, tasks, concurrency, env=env)


def measure(s: Stack, tasks: int, rounds: int, concurrency: int) -> dict[str, object]:
    """The benchmark on a given stack; the smoke test calls it with a handful of tasks."""
    receiver = OtlpReceiver().start()
    modes = ("off", *RATIOS)
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for _ in range(rounds):
            for mode in modes:
                rate, cpu_ms = _round(s, tasks, concurrency, mode_env(mode, receiver))
                rates[mode].append(rate)
                cpu[mode].append(cpu_ms)
        spans = receiver.settle(quiet_seconds=1.0)
    finally:
        receiver.stop()
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    cpu_medians = {mode: statistics.median(values) for mode, values in cpu.items()}
    task_spans = {mode: sum(sp.name == TASK_SPAN and sp.service == f"bench-{mode}" for sp in spans) for mode in modes}
    return {
        "benchmark": "tracing_overhead",
        "tasks": tasks,
        "rounds": rounds,
        "concurrency": concurrency,
        "measured": "first task started -> every result in Redis (bench_machinery)",
        "tasks_per_second": {mode: round(value, 1) for mode, value in medians.items()},
        "ratio_to_off": {mode: round(medians[mode] / medians["off"], 3) for mode in modes},
        "rounds_per_mode": {mode: [round(r, 1) for r in values] for mode, values in rates.items()},
        # Steadier than the rate on a shared machine: the worker's own CPU per task.
        "worker_cpu_ms_per_task": {mode: round(value, 3) for mode, value in cpu_medians.items()},
        # None when "off" spent less than a clock tick (a tiny smoke-test run): no ratio to give.
        "cpu_ratio_to_off": {
            mode: round(cpu_medians[mode] / cpu_medians["off"], 3) if cpu_medians["off"] else None for mode in modes
        },
        "task_spans_exported": task_spans,
        "tasks_run_per_mode": tasks * rounds,
    }


def main(argv: list[str] | None = None) -> None:
    main_for(measure, __doc__, argv, tasks=2000, rounds=3, concurrency=2)


if __name__ == "__main__":
    main(sys.argv[1:])
