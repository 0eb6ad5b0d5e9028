"""An evaluation never hangs: slow retrievers stay inside the time limits, failures become ``failed``.

Also: progress is visible while an evaluation runs, and a failed evaluation can be re-run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import Queue, TaskName
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE, drain_tasks, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI
from tests.support.procs import wait_until


@pytest.fixture
def retriever_chunks() -> list[dict[str, str]]:
    return LEE[:30]


def test_a_slow_retriever_stays_inside_the_soft_time_limit(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever
) -> None:
    # Each question: a 0.3 s timeout, 0.5 s backoff, a second 0.3 s timeout = ~1.1 s; six of them
    # in one batch (~6.6 s) would run past the 4 s soft limit. The 1.5 s budget splits the batch.
    env = {
        **worker_env,
        **fake_retriever.env(),
        "RAGTASKS_RETRIEVER_TIMEOUT_SECONDS": "0.3",
        "RAGTASKS_RETRIEVER_MAX_ATTEMPTS": "2",
        "RAGTASKS_EVAL_BATCH_SIZE": "6",
        "RAGTASKS_EVAL_BATCH_TIME_BUDGET_SECONDS": "1.5",
        "RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS": "4",
        "RAGTASKS_TASK_TIME_LIMIT_SECONDS": "8",
    }
    fake_retriever.slow_seconds = 0.6  # above the retriever timeout: every attempt times out
    worker = start_worker("evaluator", env, concurrency=1)
    load_kb(api, "slow", LEE[:30])
    report = wait_evaluation(api, start_evaluation(api, "slow", 6, seed=2), timeout=60)
    assert report["status"] == "done", report
    assert report["progress"]["done"] == 6 and report["counts"]["rows"] == 6
    assert report["continuations"] >= 2, report  # the batch was handed on, not run past the limit
    assert report["counts"]["retrieval_errors"] == 6 and report["metrics"]["hit_rate@10"] == 0.0
    assert all("ReadTimeout" in d["error"] and "after 2 attempts" in d["error"] for d in report["details"])
    assert "SoftTimeLimitExceeded" not in worker.log_text()


def test_a_misconfigured_retriever_fails_the_evaluation_visibly_and_a_rerun_completes_it(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any
) -> None:
    # The gateway (bm25) accepts the request; the worker is told to use http but given no URL.
    broken = start_worker("evaluator", {**worker_env, "RAGTASKS_RETRIEVER": "http"}, concurrency=1)
    load_kb(api, "cfg", LEE[:20])
    evaluation_id = start_evaluation(api, "cfg", 4, seed=1)
    report = wait_evaluation(api, evaluation_id, timeout=30)
    assert report["status"] == "failed", report
    assert "RetrieverConfigError" in report["error"] and "RAGTASKS_RETRIEVER_URL" in report["error"]
    assert report["failed_task"] == TaskName.EVALUATE_BATCH.value
    # The task failed for good, so the failure alert went to the alerter (taken off its queue here).
    drained = drain_tasks(worker_env["RAGTASKS_BROKER_URL"], Queue.ALERTER.value, TaskName.RAISE_ALERT.value)
    assert any(a["fingerprint"].endswith(":RetrieverConfigError") for a in drained), drained

    # Fixed configuration, re-run: the evaluation reopens and finishes; nothing is counted twice.
    broken.stop()
    start_worker("evaluator", {**worker_env, "RAGTASKS_RETRIEVER": "bm25"}, concurrency=1)
    celery_client.send_task(TaskName.RUN_EVALUATION.value, kwargs={"evaluation_id": evaluation_id}).get(timeout=30)
    again = wait_evaluation(api, evaluation_id, timeout=30)
    assert again["status"] == "done" and "error" not in again, again
    assert again["progress"]["done"] == again["counts"]["rows"] == 4


def test_the_gateway_refuses_evaluations_it_knows_cannot_run(make_settings: Any) -> None:
    settings = make_settings(retriever="http")
    with TestClient(create_app(settings)) as client:
        load_kb(client, "cfg", LEE[:3])
        r = client.post("/v1/evaluations", json={"kb_id": "cfg", "sample_size": 2}, headers=auth())
        assert r.status_code == 503 and "RAGTASKS_RETRIEVER_URL" in r.text, r.text
        assert client.get("/v1/evaluations", params={"kb_id": "cfg"}, headers=auth()).json()["evaluations"] == []


def test_progress_is_visible_while_a_slow_llm_writes_questions(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_EVAL_QUESTIONS_PER_LLM_CALL": "1",
        "RAGTASKS_EVAL_BATCH_SIZE": "2",
    }
    fake_llm.latency_seconds = 0.6
    fake_llm.default_text = json.dumps({"questions": [{"id": "1", "question": "What happened?"}]})
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "prog", LEE[:20])
    evaluation_id = start_evaluation(api, "prog", 6, seed=4)
    seen: list[tuple[int, int]] = []

    def progress() -> dict[str, Any]:
        body = api.get(f"/v1/evaluations/{evaluation_id}", params={"details": "false"}, headers=auth()).json()
        seen.append((body["progress"]["done"], body["progress"]["total"]))
        return dict(body)

    body = wait_until(progress, 60, 0.1, "the evaluation to finish", until=lambda b: b["status"] in ("done", "failed"))
    assert body["status"] == "done", body
    assert any(0 < done < total for done, total in seen), seen
    assert seen[-1] == (6, 6)
    dones = [done for done, _ in seen]
    assert dones == sorted(dones)  # progress only moves forward
