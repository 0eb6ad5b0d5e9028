"""Structured JSON logs from workers (ids, outcome, duration; never secrets) and Flower."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ragtasks_core.contract import TaskName
from tests.conftest import LOG_DIR
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.support.fake_openai import FakeOpenAI
from tests.support.procs import Proc, start_flower, start_together, wait_until

SECRET_LLM_KEY = "sk-very-secret-llm-key-4242"


def test_worker_logs_are_json_with_task_fields_and_no_secrets(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        # A key of our own, so the logs can be searched for it.
        "RAGTASKS_LLM_API_KEY": SECRET_LLM_KEY,
        "RAGTASKS_LOG_JSON": "true",
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "0",
    }
    worker, gateway = start_together(lambda: start_worker("summarizer", env, concurrency=1), lambda: start_gateway(env))
    with gateway_client(gateway.port) as client:
        client.post(
            "/v1/sessions/log-1/messages", json={"messages": [{"role": "user", "content": "hello"}]}, headers=auth()
        )
        task_id = client.post("/v1/sessions/log-1/summarize", headers=auth()).json()["task_id"]
        assert wait_task(client, task_id)["state"] == "SUCCESS"
    # The LLM saw the key (it is used), but no log line carries it.
    assert fake_llm.chat_requests()
    text = worker.log_text() + gateway.log_text()
    assert SECRET_LLM_KEY not in text
    assert "test-key-0123456789" not in text
    records = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
    [done] = [r for r in records if r.get("task_id") == task_id and r.get("outcome")]
    assert done["task"] == "ragtasks.summarizer.summarize_session"
    assert done["queue"] == "summarizer"
    assert done["outcome"] == "success"
    assert done["session_id"] == "log-1"
    assert done["duration_seconds"] >= 0


def test_flower_sees_the_workers_and_their_task_events(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, processes: list[Proc]
) -> None:
    # The worker starts with task events off (the default): Flower turns them on itself.
    assert "RAGTASKS_WORKER_SEND_TASK_EVENTS" not in worker_env
    # "sent" events come from publishers, which no remote control reaches: a setting.
    worker, gateway = start_together(
        lambda: start_worker("alerter", worker_env, concurrency=1),
        lambda: start_gateway({**worker_env, "RAGTASKS_TASK_SEND_SENT_EVENT": "true"}),
    )
    flower = start_flower({**worker_env, "FLOWER_UNAUTHENTICATED_API": "true"}, LOG_DIR)
    processes.append(flower)
    port = flower.port

    def workers() -> bool:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/api/workers", params={"refresh": "1"}, timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return False
        return any(name.startswith("alerter-") for name in body)

    wait_until(workers, 60, 1.0, "Flower to list the alerter worker")
    # Flower enables the worker's task events by remote control (periodically, from its start).
    wait_until(lambda: "enabled by remote" in worker.log_text(), 60, 0.5, "Flower to enable the worker's events")
    # Task events: "sent" comes from the publisher -- here the gateway (task_send_sent_event) --
    # the rest from the worker (worker_send_task_events). Without either, Flower's task view
    # stays incomplete.
    alert = {"fingerprint": "flower-1", "title": "seen by Flower"}
    with gateway_client(gateway.port) as client:
        [task_id] = client.post("/v1/alerts", json=alert, headers=auth()).json()["task_ids"]

    def task_seen() -> dict[str, Any] | None:
        try:
            tasks = httpx.get(f"http://127.0.0.1:{port}/api/tasks", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return None
        info: dict[str, Any] | None = tasks.get(task_id)
        return info if info and info.get("state") == "SUCCESS" and info.get("sent") else None

    wait_until(
        lambda: task_seen() is not None,
        60,
        1.0,
        "Flower to see the task's sent and succeeded events",
        detail=lambda: str(httpx.get(f"http://127.0.0.1:{port}/api/tasks", timeout=10).json().get(task_id)),
    )
    info = task_seen()
    assert info is not None and info["name"] == TaskName.RAISE_ALERT.value and info["received"]
