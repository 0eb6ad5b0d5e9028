"""A real Prometheus scrapes a running stack (gateway and all three workers).

A known mix of successes and failures goes through the summarizer; the success ratio read back
through Prometheus's HTTP API -- from the recording rules the chart ships -- must equal it. Then
every dashboard panel's query runs against this Prometheus, with data, and must not error.
Set ``RAGTASKS_DASHBOARD_PNG=docs/dashboard-overview.png`` to also render the overview dashboard
from this run's data (that is how the picture in the docs is made).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ragtasks_core.contract import TaskName
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.observability.test_dashboards import exprs
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.prometheus import RULES_FILE, PrometheusError, PrometheusServer

SUCCESSES, FAILURES = 6, 2
SUMMARIZE = TaskName.SUMMARIZE_SESSION.value
ROOT = Path(__file__).resolve().parents[3]


def test_success_ratio_read_back_through_prometheus(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI, celery_client: Any
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_LLM_BASE_URL": fake_llm.base_url,
        "RAGTASKS_LLM_API_KEY": "sk-test",
        "RAGTASKS_LLM_MODEL": "fake-model",
        "RAGTASKS_LLM_RATE_LIMIT": "100/s",
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "0",
        "RAGTASKS_SUMMARY_TRIGGER_TOKENS": "1000000",
    }
    workers = [start_worker(q, env, concurrency=1) for q in ("summarizer", "evaluator", "alerter")]
    gateway = start_gateway(env)
    targets = [f"127.0.0.1:{gateway.port}", *(f"127.0.0.1:{w.port}" for w in workers)]
    with PrometheusServer(targets, scrape_interval="1s", rule_files=[RULES_FILE]) as prom:
        prom.wait_for(lambda: len(prom.targets_health()) == 4 and set(prom.targets_health().values()) == {"up"}, 30)
        # The first two LLM calls answer 400 (a permanent error: FAILURE at once), the rest succeed.
        fake_llm.push(*[Reply(status=400)] * FAILURES)
        states = []
        with gateway_client(gateway.port) as client:
            for i in range(SUCCESSES + FAILURES):
                session = f"prom-{i}"
                message = {"role": "user", "content": f"question number {i} about the refund policy"}
                assert (
                    client.post(
                        f"/v1/sessions/{session}/messages", json={"messages": [message]}, headers=auth()
                    ).status_code
                    == 200
                )
                task_id = client.post(f"/v1/sessions/{session}/summarize", headers=auth()).json()["task_id"]
                states.append(wait_task(client, task_id)["state"])  # one at a time: a known order
        assert states == ["FAILURE"] * FAILURES + ["SUCCESS"] * SUCCESSES
        for name in (TaskName.EVALUATOR_PING, TaskName.ALERTER_PING):
            assert celery_client.send_task(name.value, kwargs={}).get(timeout=30) == "pong"

        def counted(outcome: str) -> float | None:
            return prom.value(f'sum(ragtasks_tasks_total{{task="{SUMMARIZE}",outcome="{outcome}"}})')

        prom.wait_for(lambda: counted("success") == SUCCESSES and counted("failure") == FAILURES, 30)
        expected = SUCCESSES / (SUCCESSES + FAILURES)

        def ratio(expr: str) -> float | None:
            value = prom.value(expr)
            return value if value is not None and abs(value - expected) < 1e-9 else None

        prom.wait_for(lambda: ratio(f'ragtasks:task_success_ratio:rate5m{{task="{SUMMARIZE}"}}'), 30)
        prom.wait_for(lambda: ratio('ragtasks:queue_success_ratio:rate5m{queue="summarizer"}'), 30)
        prom.wait_for(lambda: ratio('ragtasks:queue_success_ratio:rate1h{queue="summarizer"}'), 30)
        prom.wait_for(lambda: prom.value('ragtasks:queue_success_ratio:rate5m{queue="evaluator"}') == 1.0, 30)
        # The gateway exports queue depth and consumers from RabbitMQ's management API.
        assert prom.value('max(ragtasks_queue_consumers{queue="summarizer"})') == 1.0
        assert prom.value("max(ragtasks_build_info)") == 1.0
        for where, expr in exprs():
            try:
                prom.query(expr)
            except PrometheusError as exc:
                raise AssertionError(f"dashboard query failed: {where}: {exc}") from exc
        assert [r for r in prom.rules() if r.get("health") == "err"] == []
        png = os.environ.get("RAGTASKS_DASHBOARD_PNG")
        if png:
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "scripts" / "render_dashboard.py"),
                    "--prometheus",
                    prom.url,
                    "--out",
                    png,
                    "--minutes",
                    "1.5",
                    "--rate-interval",
                    "15s",
                ],
                check=True,
            )
