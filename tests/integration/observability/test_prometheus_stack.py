"""A real Prometheus scrapes a running stack (gateway and all three workers).

A known mix of successes and failures goes through the summarizer; the success ratio read back
through Prometheus's HTTP API -- from the recording rules the chart ships -- must equal it. Then
every dashboard panel's query runs against this Prometheus, with data, and must not error.
Set ``RAGTASKS_DASHBOARD_PNG=docs/dashboard-overview.png`` to also render the overview dashboard
from this run's data (that is how the picture in the docs is made).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from ragtasks_core.contract import TaskName
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.observability.test_dashboards import exprs
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import start_together, wait_until
from tests.support.prometheus import RULES_FILE, PrometheusError, PrometheusServer

SUCCESSES, FAILURES = 6, 2
SUMMARIZE = TaskName.SUMMARIZE_SESSION.value
ROOT = Path(__file__).resolve().parents[3]


def exercise_evaluator_and_alerter(client: httpx.Client, wecom: FakeWeCom) -> None:
    """Recall and alert series for the dashboard: one small evaluation and one alert."""
    words = [
        "refund",
        "shipping",
        "warranty",
        "battery",
        "invoice",
        "exchange",
        "courier",
        "address",
        "receipt",
        "voucher",
    ]
    chunks = [
        {
            "chunk_id": f"c{i}",
            "doc_id": f"d{i // 2}",
            "text": f"{words[i % 10]} policy note {i}: "
            f"{' '.join(words[(i + j) % 10] for j in range(6))} section {i * 7}",
        }
        for i in range(20)
    ]
    assert client.post("/v1/kbs/kb-prom/chunks", json={"chunks": chunks}, headers=auth()).status_code == 200
    r = client.post("/v1/evaluations", json={"kb_id": "kb-prom", "sample_size": 10, "k": [1, 5]}, headers=auth())
    assert r.status_code == 202, r.text
    evaluation = f"/v1/evaluations/{r.json()['evaluation_id']}"
    wait_until(lambda: client.get(evaluation, headers=auth()).json()["status"] == "done", 60, 0.5, "the evaluation")
    empty = [{"kb_id": "kb-prom", "query": f"q{i}", "n_results": 0, "latency_ms": 12.5} for i in range(30)]
    assert client.post("/v1/retrieval-events", json={"events": empty}, headers=auth()).status_code == 202
    wait_until(
        lambda: any("empty_retrieval" in m.content for m in wecom.messages()),
        60,
        0.5,
        "the empty-retrieval alert at the robot",
    )


def test_success_ratio_read_back_through_prometheus(
    worker_env: dict[str, str],
    start_worker: Any,
    start_gateway: Any,
    fake_llm: FakeOpenAI,
    celery_client: Any,
    wecom: FakeWeCom,
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "0",
        "RAGTASKS_SUMMARY_TRIGGER_TOKENS": "1000000",
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_EMPTY_RETRIEVAL_THRESHOLD": "20",
    }
    *workers, gateway = start_together(
        *(functools.partial(start_worker, q, env, concurrency=1) for q in ("summarizer", "evaluator", "alerter")),
        lambda: start_gateway(env),
    )
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
            exercise_evaluator_and_alerter(client, wecom)
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
        # (The management API's statistics lag the broker by its collection interval: wait, don't read once.)
        prom.wait_for(lambda: prom.value('max(ragtasks_queue_consumers{queue="summarizer"})') == 1.0, 30)
        # Depth by state for every task queue, `maintenance` included (drained by now: zero, but present).
        depth = prom.query("ragtasks_queue_messages")
        assert {(r["metric"]["queue"], r["metric"]["state"]) for r in depth} == {
            (q, state)
            for q in ("summarizer", "evaluator", "alerter", "maintenance")
            for state in ("ready", "unacknowledged")
        }
        assert prom.value("max(ragtasks_queue_metrics_up)") == 1.0
        assert prom.value("max(ragtasks_build_info)") == 1.0
        # The other task and LLM series, through Prometheus: every attempt is timed and waited.
        runs = SUCCESSES + FAILURES
        assert prom.value(f'sum(ragtasks_task_queue_wait_seconds_count{{task="{SUMMARIZE}"}})') == runs
        assert prom.value(f'sum(ragtasks_task_duration_seconds_count{{task="{SUMMARIZE}"}})') == runs
        llm_calls = len(fake_llm.chat_requests())  # the summaries' and the evaluation's questions
        assert prom.value('sum(ragtasks_llm_request_duration_seconds_count{model="fake-model"})') == llm_calls
        assert prom.value('sum(ragtasks_llm_requests_total{model="fake-model",outcome="client_error"})') == FAILURES
        assert (prom.value('sum(ragtasks_llm_tokens_total{model="fake-model",kind="completion"})') or 0) > 0
        assert prom.value('sum(ragtasks_rate_limiter_wait_seconds_count{limiter="llm"})') == llm_calls
        assert prom.value('sum(ragtasks_tasks_published_total{queue="summarizer",outcome="ok"})') == runs
        prom.wait_for(lambda: prom.value('max(ragtasks_eval_hit_rate{kb="kb-prom",k="5"})') is not None, 30)
        # Two messages reached the robot: the summarizer's failure alert (its two failures share one
        # fingerprint) and the empty-retrieval alert. The counter must agree with the robot.
        assert sorted(m.content.split("**")[1] for m in wecom.messages()) == [
            "[告警中:1] empty_retrieval",
            "[告警中:1] task_failure",
        ]
        prom.wait_for(lambda: prom.value('sum(ragtasks_alerts_total{channel="wecom",outcome="sent"})') == 2.0, 30)
        prom.wait_for(
            lambda: prom.value('sum(ragtasks_retrieval_events_total{kb="kb-prom",outcome="empty"})') == 30.0, 30
        )
        # The latency the app reported with each event: 30 observations of 12.5 ms.
        assert prom.value('sum(ragtasks_retrieval_duration_seconds_count{kb="kb-prom"})') == 30.0
        assert abs((prom.value('sum(ragtasks_retrieval_duration_seconds_sum{kb="kb-prom"})') or 0) - 0.375) < 1e-9
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
