"""Multi-step folds on a real worker: kill -9 between steps, re-queueing at the time budget,
claiming the next summary, deletion under a running task, nightly retention."""

from __future__ import annotations

import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.result import AsyncResult

from ragtasks_core import documents
from ragtasks_core.contract import TaskName
from ragtasks_summarizer import next_summary
from ragtasks_summarizer.policy import Policy
from tests.integration.helpers import auth
from tests.support.procs import metric_value, wait_until

from .conftest import Rig, seed_session, wait_states
from .test_long_sessions import SUMMARY, chinese, summarized_to_the_end
from .test_race import assert_consistent


def committed(db: Any, session_id: str) -> list[tuple[int, int]]:
    docs = db.summaries.find({"session_id": session_id, "committed": True}).sort("from_seq", 1)
    return [(d["from_seq"], d["upto_seq"]) for d in docs]


def committed_to(db: Any, session_id: str, upto: int) -> list[tuple[int, int]]:
    """:func:`committed` once it reaches ``upto``: a step marks its summary committed just after the
    session's watermark moves, so the session can say "done" a moment before the last mark."""
    found: list[tuple[int, int]] = wait_until(
        lambda: committed(db, session_id),
        15,
        0.1,
        f"the committed summaries of {session_id} to reach {upto}",
        until=lambda chain: bool(chain) and chain[-1][1] == upto,
    )
    return found


def test_kill_9_during_a_multi_step_fold_loses_nothing_and_duplicates_nothing(rig: Rig) -> None:
    rig.llm.latency_seconds = 1.5
    rig.llm.default_text = SUMMARY
    env = rig.env(LLM_CONTEXT_TOKENS="16000")
    task_id = f"fold-kill-{uuid.uuid4().hex[:8]}"
    seed_session(rig.db, "fold-kill", [chinese(20_000, i) for i in range(8)], pending_task_id=task_id)
    worker = rig.start_worker("summarizer", env, concurrency=1)
    rig.publish("fold-kill", task_id)
    wait_until(lambda: len(committed(rig.db, "fold-kill")) >= 2, 60, message="two fold steps committed")
    worker.kill()  # SIGKILL to the whole worker, mid-fold (a step's LLM call is in flight)
    before = committed(rig.db, "fold-kill")
    assert_consistent(rig.db, "fold-kill")  # every commit so far is whole

    rig.start_worker("summarizer", env, concurrency=1)
    body = wait_states(rig.client(env), [task_id], timeout=120)[task_id]
    assert body["state"] == "SUCCESS", body
    session = summarized_to_the_end(rig, "fold-kill", timeout=60)
    after = committed_to(rig.db, "fold-kill", session["summary_upto_seq"])
    assert after[: len(before)] == before  # nothing committed was redone or lost
    assert [a for a, _ in after] == [0] + [b for _, b in after[:-1]]  # one chain, no overlap
    assert session["summary_upto_seq"] == 7
    assert_consistent(rig.db, "fold-kill")
    # Each step asked once, plus at most the one in flight when the worker died.
    assert len(after) <= len(rig.llm.chat_requests()) <= len(after) + 1


def test_a_task_out_of_time_re_queues_itself_until_the_end(rig: Rig) -> None:
    rig.llm.default_text = SUMMARY
    # One LLM call (15 s timeout + 10 s margin) does not fit in the 20 s soft limit: every task
    # commits one step and hands the rest to the next task it claims.
    env = rig.env(
        LLM_CONTEXT_TOKENS="16000",
        TASK_SOFT_TIME_LIMIT_SECONDS="20",
        TASK_TIME_LIMIT_SECONDS="40",
        LLM_TIMEOUT_SECONDS="15",
        LLM_RATE_LIMIT_MAX_WAIT_SECONDS="0",
    )
    task_id = f"requeue-{uuid.uuid4().hex[:8]}"
    seed_session(rig.db, "requeue", [chinese(20_000, i) for i in range(5)], pending_task_id=task_id)
    rig.start_worker("summarizer", env, concurrency=1)
    rig.publish("requeue", task_id)
    session = summarized_to_the_end(rig, "requeue", timeout=120)  # no beat, no sweep: only the tasks themselves
    assert len(committed_to(rig.db, "requeue", session["summary_upto_seq"])) == 4
    assert len(rig.llm.chat_requests()) == 4
    assert_consistent(rig.db, "requeue")


def test_a_task_that_ends_past_the_threshold_claims_the_next_summary(db: Any) -> None:
    documents.ensure_indexes(db)
    policy = Policy(trigger_tokens=100, keep_recent_messages=1)
    published: list[tuple[str, str, str]] = []

    def publish(session_id: str, task_id: str, reason: str) -> None:
        published.append((session_id, task_id, reason))

    seed_session(db, "stranded", [chinese(200, i) for i in range(4)])
    task_id = next_summary.claim_next(db, "stranded", policy, publish, more=False)
    assert task_id is not None and published == [("stranded", task_id, "threshold")]
    pending = db.sessions.find_one({"_id": "stranded"})["summary_pending"]
    assert (pending["task_id"], pending["published"]) == (task_id, True)
    # Held now: nobody claims twice.
    assert next_summary.claim_next(db, "stranded", policy, publish, more=False) is None
    # Past the threshold but nothing to fold (all kept verbatim): no task that would do nothing.
    seed_session(db, "kept", [chinese(400, 1)])
    assert next_summary.claim_next(db, "kept", policy, publish, more=False) is None
    # Below the threshold, nothing left over: nothing to claim.
    seed_session(db, "small", ["好的。", "谢谢。"])
    assert next_summary.claim_next(db, "small", Policy(trigger_tokens=10**6), publish, more=False) is None
    assert len(published) == 1


def test_a_session_deleted_under_a_running_task_gets_nothing_written(rig: Rig) -> None:
    rig.llm.latency_seconds = 3.0
    env = rig.env()
    task_id = f"del-{uuid.uuid4().hex[:8]}"
    seed_session(
        rig.db, "del-run", ["[[del]] 你好。", "您好，请问有什么可以帮您？", "我想退货。"], pending_task_id=task_id
    )
    rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)
    rig.publish("del-run", task_id)
    wait_until(lambda: len(rig.llm.chat_requests()) == 1, 30, message="the LLM call to start")
    r = client.delete("/v1/sessions/del-run", headers=auth())
    assert r.status_code == 200 and r.json()["deleted"] is True, r.text
    body = wait_states(client, [task_id], timeout=30)[task_id]
    assert body["state"] == "SUCCESS" and body["result"]["status"] == "no_session", body
    for name in ("sessions", "messages", "summaries"):
        assert rig.db[name].count_documents({}) == 0, name


def test_retention_deletes_idle_sessions_nightly(rig: Rig, celery_client: Any) -> None:
    env = rig.env(SESSION_RETENTION_DAYS="30")
    worker = rig.start_worker("summarizer", env, concurrency=1)
    for session_id in ("idle", "active"):
        seed_session(rig.db, session_id, ["你好。", "您好。", "再见。"])
        rig.db.summaries.insert_one({"session_id": session_id, "from_seq": 0, "upto_seq": 2, "summary": "摘要"})
    old = datetime.now(UTC) - timedelta(days=31)
    rig.db.sessions.update_one({"_id": "idle"}, {"$set": {"updated_at": old}})

    def run() -> Any:
        result = celery_client.send_task(TaskName.DELETE_IDLE_SESSIONS.value, kwargs={"v": 1})
        return AsyncResult(result.id, app=celery_client).get(timeout=30)

    assert run() == {"deleted": 1}
    for name in ("sessions", "messages", "summaries"):
        field = "_id" if name == "sessions" else "session_id"
        assert rig.db[name].count_documents({field: "idle"}) == 0, name
        assert rig.db[name].count_documents({field: "active"}) > 0, name
    assert run() == {"deleted": 0}  # idempotent
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert metric_value(text, "ragtasks_sessions_deleted_total", {"reason": "retention"}) == 1
