"""The LLM retry policy, measured at the fake OpenAI server through real workers and RabbitMQ.

One test runs every scenario at once (they wait in the broker, not in the worker):
- the default schedule 2 s, 4 s, 8 s for 503/429/503, then success;
- ``Retry-After: 5`` on a 429 is honoured (longer than the 2 s schedule);
- a hang past ``RAGTASKS_LLM_TIMEOUT_SECONDS`` is a timeout and is retried;
- 400/401/404 fail at once, with the reason in ``GET /v1/tasks/{id}``;
- on a second worker (its own vhost) with ``LLM_BACKOFF_BASE_SECONDS=1`` and
  ``LLM_BACKOFF_MAX_SECONDS=4``: 503 six times -> retries after 1, 2, 4, 4, 4 s (doubling, then
  capped), then FAILURE with the reason kept after the default five retries.
"""

from __future__ import annotations

import contextlib
import time
import uuid

from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.metrics import TASK_OUTCOMES
from tests.support.fake_openai import Reply
from tests.support.procs import metric_value, metrics_text, start_together, wait_until
from tests.support.services import Vhost

from .conftest import Rig, gaps, publish_summary, seed_session, task_state, wait_states

EARLY = 0.3  # a retry may never come sooner than its countdown (less clock jitter)
# Broker delay queues + worker pick-up on a busy 2-core machine (CI runs slower than a quiet one).
# Still tight enough to tell 2/4/8 from a constant or linear schedule.
LATE = 2.0


def assert_schedule(observed: list[float], expected: list[float]) -> None:
    assert len(observed) == len(expected), (observed, expected)
    for got, want in zip(observed, expected, strict=True):
        assert want - EARLY <= got <= want + LATE, (observed, expected)


def test_backoff_schedules_and_failures(rig: Rig) -> None:
    fast = Vhost.create()
    try:
        _run(rig, fast)
    finally:
        fast.delete()


def _run(rig: Rig, fast: Vhost) -> None:
    llm, db = rig.llm, rig.db
    env = rig.env(LLM_TIMEOUT_SECONDS="1")
    # The cap keeps the give-up leg (five retries) within the default schedule's 14 s.
    fast_env = {**env, "RAGTASKS_BROKER_URL": fast.broker_url, "RAGTASKS_LLM_BACKOFF_BASE_SECONDS": "1"}
    fast_env["RAGTASKS_LLM_BACKOFF_MAX_SECONDS"] = "4"
    scripts = {
        "default": [Reply(503), Reply(429), Reply(503)],
        "retry_after": [Reply(429, retry_after="5")],
        "hang": [Reply(hang_seconds=3)],
        "bad_request": [Reply(400)],
        "unauthorized": [Reply(401)],
        "not_found": [Reply(404)],
        "give_up": [Reply(503)] * 6,
    }
    ids = {marker: f"{marker}-{uuid.uuid4().hex[:8]}" for marker in scripts}
    for marker, replies in scripts.items():
        llm.script_for(marker, *replies)
        contents = [f"[[{marker}]] first message.", "second message.", "third message."]
        seed_session(db, marker, contents, pending_task_id=ids[marker])

    main_worker, fast_worker = start_together(
        lambda: rig.start_worker("summarizer", env, concurrency=2),
        lambda: rig.start_worker("summarizer", fast_env, concurrency=1),
    )
    settings = rig.settings_for(env)
    client = rig.api(settings)
    main_app, fast_app = create_celery(settings), create_celery(rig.settings_for(fast_env))
    try:
        for marker, task_id in ids.items():
            publish_summary(fast_app if marker == "give_up" else main_app, marker, task_id)
        started = time.time()
        seen: dict[str, set[str]] = {}
        final = wait_states(client, list(ids.values()), timeout=90, seen=seen)
    finally:
        main_app.close()
        fast_app.close()
    elapsed = time.time() - started
    by_marker = {marker: final[task_id] for marker, task_id in ids.items()}
    observed = {marker: gaps(llm.arrivals(marker)) for marker in scripts}
    print(f"\nbackoff gaps (s): {observed}; all done in {elapsed:.1f}s")

    # 2 s, 4 s, 8 s -- the real default schedule -- then success.
    assert by_marker["default"]["state"] == "SUCCESS", by_marker["default"]
    assert by_marker["default"]["result"]["status"] == "committed"
    assert_schedule(observed["default"], [2, 4, 8])
    assert {"STARTED", "RETRY", "SUCCESS"} <= seen[ids["default"]], seen[ids["default"]]

    # Retry-After: 5 beats the 2 s schedule.
    assert by_marker["retry_after"]["state"] == "SUCCESS"
    assert_schedule(observed["retry_after"], [5])

    # A hang past the 1 s client timeout: the request is abandoned after 1 s and retried 2 s later.
    assert by_marker["hang"]["state"] == "SUCCESS"
    assert_schedule(observed["hang"], [1 + 2])

    # 4xx (but 408/429) fail at once: one request, the reason kept, the session told why.
    for marker, status in (("bad_request", 400), ("unauthorized", 401), ("not_found", 404)):
        body = by_marker[marker]
        assert body["state"] == "FAILURE", body
        assert f"LLM HTTP {status}" in body["error"], body
        assert "RETRY" not in seen[ids[marker]]
        assert len(llm.arrivals(marker)) == 1
        session = db.sessions.find_one({"_id": marker})
        assert session["summary_upto_seq"] == 0
        assert session["summary_pending"] is None  # the slot is released for a later attempt
        assert f"HTTP {status}" in session["summary_error"]["error"]

    # Base 1 s, cap 4 s: 1, 2, 4, then 4, 4 -- five retries, doubling up to the cap -- then FAILURE.
    body = by_marker["give_up"]
    assert body["state"] == "FAILURE", body
    assert "LLMGaveUp" in body["error"] and "LLM HTTP 503" in body["error"], body
    assert "gave up after 5 retries" in body["error"]
    assert_schedule(observed["give_up"], [1, 2, 4, 4, 4])
    assert db.summaries.count_documents({"session_id": "give_up"}) == 0
    assert "gave up" in db.sessions.find_one({"_id": "give_up"})["summary_error"]["error"]
    for marker in ("default", "retry_after", "hang"):
        assert db.sessions.find_one({"_id": marker})["summary_pending"] is None

    # Every attempt is counted by its outcome: a retry is not a failure (the success ratio's rules
    # rely on it). Main worker: 3 + 1 + 1 retries, 3 successes, 3 failures; the other: 5 and 1.
    def outcomes(port: int) -> dict[str, float]:
        text = metrics_text(port)
        task = {"task": TaskName.SUMMARIZE_SESSION.value, "queue": "summarizer"}
        return {o: metric_value(text, "ragtasks_tasks_total", {**task, "outcome": o}) for o in TASK_OUTCOMES}

    # (Counted in task_postrun, a moment after the state is stored: wait for it, then compare.)
    expected = {main_worker.port: {"success": 3, "failure": 3, "retry": 5, "rejected": 0}}
    expected[fast_worker.port] = {"success": 0, "failure": 1, "retry": 5, "rejected": 0}
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: all(outcomes(p) == want for p, want in expected.items()), 10, 0.2, "the counters")
    assert {p: outcomes(p) for p in expected} == expected

    # An id nobody published is PENDING.
    assert task_state(client, "never-published")["state"] == "PENDING"
