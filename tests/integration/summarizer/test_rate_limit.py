"""The LLM rate limit is shared by every replica, and waiting for it never spends a retry."""

from __future__ import annotations

import uuid

from tests.support.procs import metric_value, metrics_text, start_together

from .conftest import Rig, seed_session, wait_states

RATE = 2.0  # requests per second: RAGTASKS_LLM_RATE_LIMIT=2/s
JITTER = 0.15  # from Redis's clock (the limiter) to the fake server's arrival time


def test_two_workers_share_one_rate_limit(rig: Rig) -> None:
    rig.llm.latency_seconds = 0.2
    # MAX_RETRIES=0: a single transient failure would fail the task, so every task that succeeds
    # proves that being held back by the limiter (deferred with a countdown) is not a retry.
    env = rig.env(LLM_RATE_LIMIT="2/s", LLM_MAX_RETRIES="0", LLM_RATE_LIMIT_MAX_WAIT_SECONDS="1")
    workers = start_together(
        lambda: rig.start_worker("summarizer", env, concurrency=2),
        lambda: rig.start_worker("summarizer", env, concurrency=2),
    )
    count = 16
    ids = []
    for i in range(count):
        session_id = f"rl-{i}"
        seed_session(rig.db, session_id, [f"[[rl{i}]] hello.", "hi there.", "bye."])
        ids.append(f"rl-{i}-{uuid.uuid4().hex[:8]}")
    for i, task_id in enumerate(ids):
        rig.publish(f"rl-{i}", task_id)

    final = wait_states(rig.client(env), ids, timeout=90)
    assert all(body["state"] == "SUCCESS" for body in final.values()), final
    assert all(body["result"]["status"] == "committed" for body in final.values())

    times = sorted(r.at for r in rig.llm.chat_requests())
    assert len(times) == count, len(times)
    interval = 1 / RATE
    # In any window, at most rate*window + 1 requests (burst 1): the k-th request after request i
    # comes no sooner than (k-1) intervals later.
    for i in range(count):
        for j in range(i + 1, count):
            assert times[j] - times[i] >= (j - i - 1) * interval - JITTER, (i, j, times)
    span = times[-1] - times[0]
    observed_rate = (count - 1) / span
    print(f"\n{count} LLM calls over {span:.2f}s across 2 workers: {observed_rate:.2f}/s (limit {RATE}/s)")
    assert observed_rate <= RATE * 1.1

    # Both replicas called the LLM, and the limiter did hold tasks back (deferrals, not retries).
    per_worker = [
        metric_value(metrics_text(w.port), "ragtasks_llm_requests_total", {"outcome": "success"}) for w in workers
    ]
    assert all(n > 0 for n in per_worker), per_worker
    assert sum(per_worker) == count
    deferrals = sum(metric_value(metrics_text(w.port), "ragtasks_rate_limiter_deferrals_total") for w in workers)
    print(f"LLM calls per worker: {per_worker}; deferrals: {deferrals}")
    assert deferrals > 0
