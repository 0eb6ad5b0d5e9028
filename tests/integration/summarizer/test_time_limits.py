"""Celery's limits, on a real worker: results expire from Redis, the soft time limit ends a task.

- ``RAGTASKS_RESULT_EXPIRES_SECONDS`` is the TTL of the ``celery-task-meta-<id>`` key, so the
  Redis backend never fills up.
- An LLM that hangs below its own timeout but past ``RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS``:
  the task ends in FAILURE with the reason, nothing is committed, the error is recorded on the
  session and its pending slot released, so the next ``/summarize`` gets a fresh task that works.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from celery.result import AsyncResult

from ragtasks_core.contract import TaskName
from tests.integration.helpers import auth
from tests.support.fake_openai import Reply

from .conftest import Rig, seed_session, wait_states

EXPIRES = 300


def test_result_key_expires_after_result_expires_seconds(
    worker_env: dict[str, str], start_worker: Any, celery_client: Any, redis_client: Any
) -> None:
    start_worker("summarizer", {**worker_env, "RAGTASKS_RESULT_EXPIRES_SECONDS": str(EXPIRES)}, concurrency=1)
    task_id = f"ttl-{uuid.uuid4().hex[:8]}"
    celery_client.send_task(TaskName.SUMMARIZER_PING.value, kwargs={"v": 1}, task_id=task_id)
    assert AsyncResult(task_id, app=celery_client).get(timeout=30) == "pong"
    key = f"celery-task-meta-{task_id}"
    ttl = redis_client.ttl(key)
    assert EXPIRES - 30 <= ttl <= EXPIRES, ttl  # a TTL, and the configured one (not the 1-day default)
    redis_client.delete(key)


def test_soft_time_limit_fails_cleanly_and_frees_the_session(rig: Rig) -> None:
    env = rig.env(
        TASK_SOFT_TIME_LIMIT_SECONDS="2",
        TASK_TIME_LIMIT_SECONDS="20",
        LLM_TIMEOUT_SECONDS="30",  # the client would wait; the soft limit must end it first
    )
    rig.llm.script_for("slow", Reply(hang_seconds=10))
    task_id = f"soft-{uuid.uuid4().hex[:8]}"
    seed_session(rig.db, "soft", ["[[slow]] one.", "two.", "three."], pending_task_id=task_id)
    rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)

    rig.publish("soft", task_id)
    body = wait_states(client, [task_id], timeout=30)[task_id]
    ended = time.time()
    [asked] = rig.llm.arrivals("slow")
    assert body["state"] == "FAILURE", body
    assert body["error"] == "SummaryTimedOut: soft time limit of 2 s exceeded", body
    assert ended - asked < 8  # ended by the soft limit, not by the LLM answering after 10 s

    session = rig.db.sessions.find_one({"_id": "soft"})
    assert session["summary_pending"] is None  # the slot is free again
    assert session["summary_error"]["task_id"] == task_id
    assert "soft time limit" in session["summary_error"]["error"]
    assert (session["summary"], session["summary_upto_seq"]) == (None, 0)  # nothing committed
    assert rig.db.summaries.count_documents({}) == 0

    # The session is not stuck: a new summary is claimed, and the same child process runs it.
    r = client.post("/v1/sessions/soft/summarize", headers=auth())
    assert r.status_code == 202, r.text
    retry_id = r.json()["task_id"]
    assert retry_id != task_id
    body = wait_states(client, [retry_id], timeout=30)[retry_id]
    assert body["state"] == "SUCCESS" and body["result"]["status"] == "committed", body
    assert rig.db.sessions.find_one({"_id": "soft"})["summary_upto_seq"] == 2
