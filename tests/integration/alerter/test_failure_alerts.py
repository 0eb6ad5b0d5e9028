"""Summarizer and evaluator tasks that fail for good raise one grouped alert, not one message per failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation
from tests.integration.helpers import auth, wait_task
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import start_together, wait_until

FINGERPRINT = "task_failure:ragtasks.summarizer.summarize_session:PermanentLLMError"


def _failing_llm(
    worker_env: dict[str, str],
    make_settings: Callable[..., Settings],
    fake_llm: FakeOpenAI,
    wecom: FakeWeCom,
    **tuning: str,
) -> tuple[dict[str, str], Settings]:
    """Worker environment and gateway settings with an LLM that answers 400 three times (a
    permanent error: no retry, the task fails for good) and alerts going to the robot."""
    fake_llm.push(*[Reply(status=400)] * 3)
    # Unprefixed: the keys serve both the environment and make_settings.
    llm = {key.removeprefix("RAGTASKS_"): value for key, value in fake_llm.env().items()}
    overrides = {
        **llm,
        "WECOM_WEBHOOK_URL": wecom.url(),
        **tuning,
    }
    env = {**worker_env, **{f"RAGTASKS_{k}": v for k, v in overrides.items()}}
    return env, make_settings(**{k.lower(): v for k, v in overrides.items()})


def test_failed_for_good_tasks_become_one_grouped_alert(
    worker_env: dict[str, str],
    start_worker: Any,
    make_settings: Callable[..., Settings],
    fake_llm: FakeOpenAI,
    wecom: FakeWeCom,
    db: Any,
) -> None:
    tuning = {"SUMMARY_KEEP_RECENT_MESSAGES": "0", "ALERT_GROUP_WAIT_SECONDS": "2"}
    env, settings = _failing_llm(worker_env, make_settings, fake_llm, wecom, **tuning)
    start_together(
        lambda: start_worker("summarizer", env, concurrency=2), lambda: start_worker("alerter", env, concurrency=1)
    )
    with TestClient(create_app(settings)) as client:
        task_ids = []
        for i in range(3):
            turn = [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "answer"}]
            assert client.post(f"/v1/sessions/fail-{i}/messages", json={"messages": turn}, headers=auth()).is_success
            r = client.post(f"/v1/sessions/fail-{i}/summarize", headers=auth())
            assert r.status_code == 202, r.text
            task_ids.append(r.json()["task_id"])
        for task_id in task_ids:
            assert wait_task(client, task_id)["state"] == "FAILURE"
        wait_until(
            lambda: (db["alerts"].find_one({"fingerprint": FINGERPRINT}) or {}).get("occurrences") == 3,
            30,
            message="three failures counted on one alert",
        )
        wait_until(lambda: len(wecom.messages()) >= 1, 30, message="the failure alert message")
        time.sleep(3)
        [message] = wecom.messages()
        assert "ragtasks.summarizer.summarize_session 最终失败：PermanentLLMError" in message.content
        [alert] = client.get("/v1/alerts", params={"status": "firing"}, headers=auth()).json()["alerts"]
        assert alert["source"] == "task_failure" and alert["severity"] == "critical"
        assert alert["labels"] == {
            "task": "ragtasks.summarizer.summarize_session",
            "queue": "summarizer",
            "exception": "PermanentLLMError",
        }
        assert alert["ends_at"] is None  # firing; it resolves by itself after the resolve timeout


EVAL_FINGERPRINT = "task_failure:ragtasks.evaluator.evaluate_batch:PermanentLLMError"


def test_an_evaluator_task_failed_for_good_raises_the_alert(
    worker_env: dict[str, str],
    start_worker: Any,
    make_settings: Callable[..., Settings],
    fake_llm: FakeOpenAI,
    wecom: FakeWeCom,
) -> None:
    # The LLM refuses the question-writing call with 400: PermanentLLMError, no retry, FAILURE.
    env, settings = _failing_llm(worker_env, make_settings, fake_llm, wecom, ALERT_GROUP_WAIT_SECONDS="1")
    start_together(
        lambda: start_worker("evaluator", env, concurrency=1), lambda: start_worker("alerter", env, concurrency=1)
    )
    with TestClient(create_app(settings)) as client:
        load_kb(client, "kb-fail", LEE[:5])
        start_evaluation(client, "kb-fail", 3, seed=1)
        wait_until(lambda: len(wecom.messages()) >= 1, 60, message="the evaluator failure alert message")
        time.sleep(2)  # nothing more comes
        [message] = wecom.messages()
        assert "[告警中:1] task_failure" in message.content
        assert "ragtasks.evaluator.evaluate_batch 最终失败：PermanentLLMError" in message.content
        [alert] = client.get("/v1/alerts", params={"source": "task_failure"}, headers=auth()).json()["alerts"]
        assert alert["fingerprint"] == EVAL_FINGERPRINT and alert["occurrences"] == 1
        assert alert["labels"] == {
            "task": "ragtasks.evaluator.evaluate_batch",
            "queue": "evaluator",
            "exception": "PermanentLLMError",
        }
        assert alert["delivery_state"] == "sent"
    assert len(fake_llm.chat_requests()) == 1  # permanent: not retried
