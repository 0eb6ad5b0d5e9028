"""kill -9 in the middle of an LLM call: the task is redelivered and the summary written once.

Two cases: the whole worker (parent and pool) dies, and only the prefork child running the task
dies while its parent survives (``task_reject_on_worker_lost`` requeues the message).
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

from tests.support.procs import wait_until

from .conftest import Rig, seed_session, wait_states


def test_killed_worker_task_is_redelivered_and_written_once(rig: Rig) -> None:
    rig.llm.latency_seconds = 5.0
    env = rig.env()
    task_id = f"kill-{uuid.uuid4().hex[:8]}"
    seed_session(rig.db, "kill-1", ["[[kill]] one.", "two.", "three.", "four."], pending_task_id=task_id)
    worker = rig.start_worker("summarizer", env, concurrency=1)
    rig.publish("kill-1", task_id)
    wait_until(lambda: len(rig.llm.chat_requests()) == 1, 30, message="the LLM call to start")
    worker.kill()  # SIGKILL to the whole process group while the call is in flight
    assert rig.db.summaries.count_documents({}) == 0

    rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)
    body = wait_states(client, [task_id], timeout=60)[task_id]
    assert body["state"] == "SUCCESS", body
    assert body["result"]["status"] == "committed"
    assert len(rig.llm.chat_requests()) == 2  # the redelivery asked again; nothing else did
    [summary] = rig.db.summaries.find({"session_id": "kill-1"})
    assert summary["committed"] is True
    assert (summary["from_seq"], summary["upto_seq"]) == (0, 3)
    session = rig.db.sessions.find_one({"_id": "kill-1"})
    assert session["summary_upto_seq"] == 3
    assert session["summary"] == summary["summary"]
    assert session["summary_pending"] is None
    tokens_after = sum(m["tokens"] for m in rig.db.messages.find({"session_id": "kill-1", "seq": {"$gt": 3}}))
    assert session["tokens_since_summary"] == tokens_after

    # The same message delivered again after the commit (a worker dying between commit and ack):
    # nothing to do, no LLM call, nothing written.
    rig.publish("kill-1", task_id)
    again = f"{task_id}-again"
    rig.publish("kill-1", again)
    body = wait_states(client, [again], timeout=30)[again]
    assert body["result"]["status"] == "nothing_to_do", body
    assert len(rig.llm.chat_requests()) == 2
    assert rig.db.summaries.count_documents({"session_id": "kill-1"}) == 1
    assert rig.db.sessions.find_one({"_id": "kill-1"})["summary_upto_seq"] == 3


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (the prefork pool processes of a worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[1]) == pid:  # fields after "(comm)": state, ppid, ...
            found.append(int(stat.parent.name))
    return sorted(found)


def test_killed_pool_child_is_requeued_by_its_parent(rig: Rig) -> None:
    rig.llm.latency_seconds = 3.0
    env = rig.env()
    task_id = f"child-{uuid.uuid4().hex[:8]}"
    seed_session(rig.db, "child-1", ["[[child]] one.", "two.", "three.", "four."], pending_task_id=task_id)
    worker = rig.start_worker("summarizer", env, concurrency=1)
    [child] = children(worker.popen.pid)  # concurrency 1: one pool process
    rig.publish("child-1", task_id)
    wait_until(lambda: len(rig.llm.chat_requests()) == 1, 30, message="the LLM call to start")
    os.kill(child, signal.SIGKILL)  # only the child running the task, mid-call

    client = rig.client(env)
    body = wait_states(client, [task_id], timeout=60)[task_id]
    assert body["state"] == "SUCCESS", body
    assert body["result"]["status"] == "committed"
    assert worker.alive()  # the parent survived and replaced its child
    assert children(worker.popen.pid) not in ([], [child])
    log = worker.log_text()
    assert f"pid:{child} exited with 'signal 9 (SIGKILL)'" in log and "WorkerLostError" in log
    assert len(rig.llm.chat_requests()) == 2  # the requeued message asked again; nothing else did
    [summary] = rig.db.summaries.find({"session_id": "child-1"})
    assert summary["committed"] is True and (summary["from_seq"], summary["upto_seq"]) == (0, 3)
    session = rig.db.sessions.find_one({"_id": "child-1"})
    assert (session["summary_upto_seq"], session["summary"]) == (3, summary["summary"])
    assert session["summary_pending"] is None
