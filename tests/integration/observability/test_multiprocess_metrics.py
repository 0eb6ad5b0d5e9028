"""Prefork children each write their own metric files; the worker's /metrics must add them up.

The known pitfall: serving one child's registry undercounts 10-25x. Here a prefork worker with
concurrency 4 runs 400 tasks and must report exactly 400, even after children are recycled.
"""

from __future__ import annotations

from typing import Any

from ragtasks_core.contract import TaskName
from tests.support.procs import metric_value, metrics_text, wait_until

N_TASKS = 400


def test_prefork_metrics_count_every_task(worker_env: dict[str, str], start_worker: Any, celery_client: Any) -> None:
    # max-tasks-per-child 60: children die and are replaced mid-run; their counts must survive.
    worker = start_worker("summarizer", worker_env, concurrency=4, extra_args=["--max-tasks-per-child", "60"])
    results = [celery_client.send_task(TaskName.SUMMARIZER_PING.value, kwargs={}) for _ in range(N_TASKS)]
    for result in results:
        assert result.get(timeout=120) == "pong"
    labels = {"task": TaskName.SUMMARIZER_PING.value, "queue": "summarizer", "outcome": "success"}

    def counted() -> bool:
        return metric_value(metrics_text(worker.port), "ragtasks_tasks_total", labels) >= N_TASKS

    wait_until(counted, 20, 0.5, "all tasks counted")
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_tasks_total", labels) == N_TASKS
    duration_labels = {"task": TaskName.SUMMARIZER_PING.value, "queue": "summarizer"}
    assert metric_value(text, "ragtasks_task_duration_seconds_count", duration_labels) == N_TASKS
    # Zero-valued series exist up front for every outcome of every task of this queue.
    for outcome in ("failure", "retry", "rejected"):
        assert f'outcome="{outcome}"' in text
    # Nothing is in progress once the queue is drained (livesum over live children only).
    assert metric_value(text, "ragtasks_tasks_in_progress", {"queue": "summarizer"}) == 0
