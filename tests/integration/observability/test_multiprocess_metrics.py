"""Prefork children each write their own metric files; the worker's /metrics must add them up.

The known pitfall: serving one child's registry undercounts 10-25x. Here a prefork worker with
concurrency 4 runs 400 tasks and must report exactly 400, even after children are recycled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ragtasks_core.contract import TaskName
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.procs import BIN, ROOT, free_port, has_series, metric_value, metrics_text, start_together, wait_until

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
    for task in (TaskName.SUMMARIZER_PING.value, TaskName.SUMMARIZE_SESSION.value):
        for outcome in ("failure", "retry", "rejected"):
            assert f'ragtasks_tasks_total{{outcome="{outcome}",queue="summarizer",task="{task}"}} 0.0' in text
    # Nothing is in progress once the queue is drained (livesum over live children only), and the
    # series exists for a task that never ran.
    summarize = TaskName.SUMMARIZE_SESSION.value
    assert has_series(text, "ragtasks_tasks_in_progress", {"queue": "summarizer", "task": summarize})
    assert metric_value(text, "ragtasks_tasks_in_progress", {"queue": "summarizer"}) == 0
    # Beat's retention may run on any worker (maintenance queue): its deletions read 0, not "no data".
    assert 'ragtasks_sessions_deleted_total{reason="retention"} 0.0' in text


def test_a_bare_prefork_worker_still_counts_every_task(
    worker_env: dict[str, str], start_worker: Any, celery_client: Any
) -> None:
    """``ragtasks worker`` started without the start-up script makes its own metrics directory."""
    n_tasks = 60
    worker = start_worker("summarizer", worker_env, concurrency=2, multiproc=False)
    [line] = [line for line in worker.log_text().splitlines() if "PROMETHEUS_MULTIPROC_DIR is not set" in line]
    own_dir = Path(line.split("using ", 1)[1].split(" ", 1)[0])
    assert own_dir.is_dir()
    results = [celery_client.send_task(TaskName.SUMMARIZER_PING.value, kwargs={}) for _ in range(n_tasks)]
    for result in results:
        assert result.get(timeout=60) == "pong"
    labels = {"task": TaskName.SUMMARIZER_PING.value, "queue": "summarizer", "outcome": "success"}
    wait_until(
        lambda: metric_value(metrics_text(worker.port), "ragtasks_tasks_total", labels) >= n_tasks, 20, 0.5, "counted"
    )
    assert metric_value(metrics_text(worker.port), "ragtasks_tasks_total", labels) == n_tasks
    worker.stop()
    assert not own_dir.exists()  # removed when the worker exits


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_killed_child_does_not_stay_in_progress(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI
) -> None:
    """kill -9 of the child running a task: its in-progress gauge must not count forever."""
    fake_llm.push(Reply(hang_seconds=30))  # the first call hangs; the redelivered one answers
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_LLM_TIMEOUT_SECONDS": "60",
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "0",
    }
    worker, gateway = start_together(lambda: start_worker("summarizer", env, concurrency=2), lambda: start_gateway(env))
    labels = {"task": TaskName.SUMMARIZE_SESSION.value, "queue": "summarizer"}

    def in_progress() -> float:
        return metric_value(metrics_text(worker.port), "ragtasks_tasks_in_progress", labels)

    with gateway_client(gateway.port) as client:
        client.post(
            "/v1/sessions/mp-1/messages", json={"messages": [{"role": "user", "content": "hi"}]}, headers=auth()
        )
        task_id = client.post("/v1/sessions/mp-1/summarize", headers=auth()).json()["task_id"]
        wait_until(lambda: in_progress() == 1 and len(fake_llm.chat_requests()) == 1, 30, 0.2, "the task to start")
        for child in children(worker.popen.pid):
            os.kill(child, signal.SIGKILL)
        # task_reject_on_worker_lost: redelivered to a fresh child, which answers this time.
        assert wait_task(client, task_id, timeout=60)["state"] == "SUCCESS"
    wait_until(lambda: in_progress() == 0, 20, 0.5, "the dead child's gauge to be dropped")


def test_the_start_up_script_wipes_stale_metric_files(
    worker_env: dict[str, str], celery_client: Any, tmp_path: Path
) -> None:
    """The image's entrypoint sets and empties PROMETHEUS_MULTIPROC_DIR before the worker starts.

    A counter file left by a previous container (same emptyDir, restarted process) would otherwise
    be summed into the new worker's counts.
    """
    directory = tmp_path / "prom"
    directory.mkdir()
    stale = (
        "from prometheus_client import Counter\n"
        "c = Counter('ragtasks_tasks', '', ['task', 'queue', 'outcome'])\n"
        f"c.labels('{TaskName.SUMMARIZER_PING.value}', 'summarizer', 'success').inc(1000)\n"
    )
    subprocess.run(
        [sys.executable, "-c", stale], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}, check=True
    )
    assert any(p.name.startswith("counter_") for p in directory.iterdir())
    port = free_port()
    env = {
        **os.environ,
        **worker_env,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                "sh",
                str(ROOT / "scripts" / "docker-entrypoint.sh"),
                "worker",
                "summarizer",
                "--concurrency",
                "2",
                "--metrics-port",
                str(port),
                "--hostname",
                f"entrypoint-{port}@%h",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: " ready." in log.read_text(errors="replace"), 60, 0.2, "the worker")
        results = [celery_client.send_task(TaskName.SUMMARIZER_PING.value, kwargs={}) for _ in range(50)]
        for result in results:
            assert result.get(timeout=60) == "pong"
        labels = {"task": TaskName.SUMMARIZER_PING.value, "outcome": "success"}
        wait_until(lambda: metric_value(metrics_text(port), "ragtasks_tasks_total", labels) >= 50, 20, 0.5, "counts")
        assert metric_value(metrics_text(port), "ragtasks_tasks_total", labels) == 50
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
