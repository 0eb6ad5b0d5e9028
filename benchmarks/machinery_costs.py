"""What ragtasks adds to each task, piece by piece, timed in-process (the README's breakdown).

``bench_machinery`` measures the whole worker beside bare Celery; on a shared two-core machine its
rates swing with other load. This times the pieces it consists of, one at a time, in one process
with nothing else in the loop (no broker, no Redis), as a worker runs them:

- ``consumer_checks``: the dead-lettering consumer's checks of one protocol-v2 message
  (``consumer.refusal_reason``: headers, ids, time limits, the body's shape; kombu caches the
  decoded body, which Celery then reuses, so the decode is not counted twice);
- ``payload``: the task's payload validation (``parse_payload``, pydantic);
- ``signals``: the task_prerun and task_postrun handlers (``worker_signals``) with the metrics in
  multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, mmapped files, as under prefork) and the one
  INFO line per task written as JSON (to ``/dev/null``: the formatting and the write, not a
  terminal's speed) -- and the same with logging at WARNING, to price the line itself.

Prints one JSON line of CPU microseconds per task (the fastest of ``--repeat`` runs of ``--count``).

    .venv/bin/python -m benchmarks.machinery_costs [--count 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _per_call_us(fn: Callable[[], Any], count: int, repeat: int) -> float:
    """CPU microseconds per call (process time: a shared machine's other load is not counted),
    the fastest of ``repeat`` runs, as ``timeit`` advises."""
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(count):
            fn()
        runs.append((time.process_time() - started) / count * 1e6)
    return round(min(runs), 2)


def _message(task: str, task_id: str) -> Any:
    """A kombu message as the consumer gets it (its decoded body cached after the first decode)."""
    from kombu.message import Message

    headers = {
        "lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
        "parent_id": None, "argsrepr": "()", "kwargsrepr": "{'v': 1}", "origin": "gen1@bench",
        "ignore_result": False, "ragtasks_published_at": time.time(),
    }  # fmt: skip
    body = json.dumps([[], {"v": 1}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return Message(body=body.encode(), content_type="application/json", content_encoding="utf-8", headers=headers)


def measure(count: int, repeat: int) -> dict[str, object]:
    """The costs, in this process: only in a process of its own (``main``, or :func:`in_subprocess`)."""
    # Multiprocess mode is chosen when prometheus_client is first imported: it must not be yet.
    if "prometheus_client" in sys.modules:
        raise RuntimeError("machinery_costs must run in a process of its own (python -m benchmarks.machinery_costs)")
    with tempfile.TemporaryDirectory(prefix="ragtasks-costs-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        return _measure(count, repeat)


def in_subprocess(count: int = 20_000, repeat: int = 5) -> dict[str, object]:
    """:func:`measure` in a fresh interpreter (what ``bench_machinery`` reports beside its ratio)."""
    argv = [sys.executable, "-m", "benchmarks.machinery_costs", "--count", str(count), "--repeat", str(repeat)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True, cwd=ROOT)
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _measure(count: int, repeat: int) -> dict[str, object]:
    from celery import Celery

    from ragtasks_core import logs, worker_signals
    from ragtasks_core.consumer import refusal_reason
    from ragtasks_core.contract import TaskName
    from ragtasks_core.contract.summarizer import Ping
    from ragtasks_core.tasks import parse_payload

    task_name = TaskName.SUMMARIZER_PING.value
    app = Celery("costs", set_as_current=False)

    @app.task(name=task_name, bind=True)
    def ping(self: Any, **kwargs: Any) -> str:
        return "pong"

    message = _message(task_name, "costs-0123456789abcdef")
    ping.push_request(id="costs-0123456789abcdef", headers=message.headers, delivery_info={"routing_key": "summarizer"})
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        logs.setup_logging("INFO", json_output=True)
        logging.getLogger().handlers[0].setStream(sink)  # type: ignore[attr-defined]

        def signals() -> None:
            worker_signals._task_started(task_id="costs-1", task=ping)
            worker_signals._task_finished(task_id="costs-1", task=ping, state="SUCCESS", kwargs={"v": 1})

        with_line = _per_call_us(signals, count, repeat)
        logging.getLogger().setLevel(logging.WARNING)
        without_line = _per_call_us(signals, count, repeat)
        logging.getLogger().setLevel(logging.INFO)
        return {
            "benchmark": "machinery_costs",
            "unit": "microseconds per task",
            "consumer_checks": _per_call_us(lambda: refusal_reason(message, max_eta_seconds=86400), count, repeat),
            "payload": _per_call_us(lambda: parse_payload(Ping, {"v": 1}), count, repeat),
            "signals_with_metrics_and_json_line": with_line,
            "signals_with_metrics_only": without_line,
            "json_line": round(with_line - without_line, 2),
        }
    finally:
        ping.pop_request()
        sink.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv or [])
    print(json.dumps(measure(args.count, args.repeat)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
