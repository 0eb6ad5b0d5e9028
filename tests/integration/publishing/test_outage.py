"""RabbitMQ really stops (``rabbitmqctl stop_app``) while sessions keep growing: nothing is lost.

Every session that crossed the threshold during the outage gets exactly one summary once the
broker is back (the sweep publishes the recorded pending summaries); alerts raised through the
gateway (``POST /v1/alerts``, recorded in the outbox) during the outage reach the alerter; the
real beat (``ragtasks beat``) records the evaluator's nightly runs that fell due during the
outage, and each runs exactly once afterwards (``RAGTASKS_EVAL_NIGHTLY_INTERVAL_SECONDS`` makes
the real "evaluator-nightly" entry fire every few seconds). The outage is kept short (~8 s):
other test runs share this broker.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ragtasks_core.contract import TaskName
from tests.conftest import LOG_DIR
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.support import procs
from tests.support.procs import wait_until
from tests.support.services import run_ctl

SESSIONS = [f"outage-{i}" for i in range(5)]
TURN = [
    {"role": "user", "content": "我想退货，上周买的耳机左边有杂音。The left earbud crackles at high volume."},
    {"role": "assistant", "content": "Sorry about that. Returns are accepted within 30 days with the receipt."},
]


def _alert(i: int) -> dict[str, Any]:
    return {"fingerprint": f"outage-test-{i}", "title": f"test alert {i}", "body": "raised during an outage",
            "labels": {"test": "outage"}, "source": "outage-test"}  # fmt: skip


NIGHTLY_RUNS = "^beat:evaluator-nightly:"


def _runs_of(workers: list[procs.Proc], task_id: str) -> int:
    """How many times the workers ran ``task_id`` to the end (the worker logs each outcome once).

    The nightly run is beat's: it goes to the ``maintenance`` queue, which every worker consumes."""
    return sum(
        1
        for proc in workers
        for line in proc.log_text().splitlines()
        if "task success: " in line and f"[{task_id}]" in line
    )


def test_broker_outage_loses_nothing(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, processes: Any, db: Any
) -> None:
    tuning = {"SUMMARY_TRIGGER_TOKENS": "150", "SUMMARY_KEEP_RECENT_MESSAGES": "0"}
    tuning |= {"OUTBOX_SWEEP_INTERVAL_SECONDS": "2", "OUTBOX_GRACE_SECONDS": "1", "EVAL_NIGHTLY_INTERVAL_SECONDS": "3"}
    worker_env.update({f"RAGTASKS_{k}": v for k, v in tuning.items()})
    *workers, gw = procs.start_together(
        lambda: start_worker("summarizer", worker_env, concurrency=2),
        lambda: start_worker("alerter", worker_env, concurrency=1),
        lambda: start_worker("evaluator", worker_env, concurrency=1),
        lambda: start_gateway(worker_env),
    )
    beat = procs.start_beat(worker_env, LOG_DIR)  # the real `ragtasks beat`, with the real schedule
    processes.append(beat)

    # Beat is up and its nightly runs reach a worker (maintenance queue) before the outage.
    def nightly_ran() -> bool:
        assert beat.alive(), beat.log_text()[-3000:]
        return any(_runs_of(workers, d["_id"]) for d in db.outbox.find({"_id": {"$regex": NIGHTLY_RUNS}}))

    wait_until(nightly_ran, 60, 0.5, "a nightly run before the outage")

    latencies: list[float] = []
    alerts: list[str] = []
    with gateway_client(gw.port) as client:
        run_ctl("stop_app")
        outage_started = datetime.now(UTC)
        try:
            for i in range(2):  # POST /v1/alerts during the outage: accepted, recorded in the outbox
                r = client.post("/v1/alerts", json=_alert(i), headers=auth())
                assert r.status_code == 202, r.text
                alerts += r.json()["task_ids"]
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                for session in SESSIONS:
                    started = time.perf_counter()
                    r = client.post(f"/v1/sessions/{session}/messages", json={"messages": TURN}, headers=auth())
                    latencies.append(time.perf_counter() - started)
                    assert r.status_code == 200, r.text  # the append succeeds during the outage
        finally:
            run_ctl("start_app")
        outage_ended = datetime.now(UTC)
        print(f"outage {outage_ended - outage_started}; append latency max {max(latencies):.2f}s "
              f"mean {sum(latencies) / len(latencies):.2f}s over {len(latencies)} appends")  # fmt: skip
        assert max(latencies) < 3.5, latencies

        # Every session crossed the threshold during the outage, and its summary waited in Mongo.
        for session in SESSIONS:
            doc = db.sessions.find_one({"_id": session})
            assert doc["summary_upto_seq"] == 0 and doc["tokens_since_summary"] >= 150
        assert [db.outbox.find_one({"_id": tid})["published_at"] for tid in alerts] == [None, None]
        # Nightly runs fell due during the outage: beat recorded them, and could not publish them.
        missed = list(
            db.outbox.find(
                {"_id": {"$regex": NIGHTLY_RUNS}, "created_at": {"$gte": outage_started, "$lte": outage_ended}}
            )
        )
        assert missed, "no nightly run fell due during the outage"
        assert all(d["task"] == TaskName.NIGHTLY.value and d["kwargs"] == {"kb_ids": []} for d in missed), missed

        def caught_up() -> bool:
            docs = list(db.sessions.find({"_id": {"$in": SESSIONS}}))
            return all(d["summary_pending"] is None and d["summary_upto_seq"] == d["last_seq"] for d in docs)

        wait_until(caught_up, 90, 0.5, "every session to be summarized after the outage")
        for session in SESSIONS:
            # One chain from 0 to the last message, every link committed: nothing summarized twice
            # (no overlap), nothing lost (no gap). A session that outgrew one step's prompt during
            # the outage (a fast machine appends more in 8 s) folds in two steps: two links.
            summaries = sorted(db.summaries.find({"session_id": session}), key=lambda d: d["from_seq"])
            last_seq = db.sessions.find_one({"_id": session})["last_seq"]
            bounds = [(d["from_seq"], d["upto_seq"]) for d in summaries]
            assert [b[0] for b in bounds] == [0] + [b[1] for b in bounds[:-1]], bounds
            assert bounds[-1][1] == last_seq and all(d["committed"] for d in summaries), (bounds, last_seq)

        # Alerts recorded during the outage were published after it and reached the alerter.
        for task_id in alerts:
            wait_until(lambda tid=task_id: db.outbox.find_one({"_id": tid})["published_at"] is not None, 60, 0.5)
            state = wait_task(client, task_id, timeout=60, states={"SUCCESS", "FAILURE", "RETRY", "STARTED"})
            assert state["state"] == "SUCCESS", state

        # Each nightly run of the outage was published after it and ran exactly once, on some worker.
        ids = [d["_id"] for d in missed]

        def all_published() -> bool:
            return db.outbox.count_documents({"_id": {"$in": ids}, "published_at": {"$ne": None}}) == len(ids)

        wait_until(all_published, 60, 0.5, "the nightly runs of the outage to be published")
        for task_id in ids:
            done = wait_task(client, task_id, timeout=60)
            assert done["state"] == "SUCCESS" and done["result"] == {"maintained": [], "evaluations": []}, done
        time.sleep(3)  # one more sweep interval and then some: a second publish would have run by now
        assert {tid: _runs_of(workers, tid) for tid in ids} == dict.fromkeys(ids, 1)
