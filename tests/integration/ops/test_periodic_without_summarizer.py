"""Periodic work is owned by no worker: with the summarizer off, the outbox is still swept.

Beat publishes its scheduled tasks (the outbox sweep among them) to the ``maintenance`` queue,
which every worker consumes besides its own. Here only the evaluator and alerter workers and beat
run; RabbitMQ really stops (``rabbitmqctl stop_app``) while an alert is raised and a session
crosses its summary threshold, so both are only recorded in Mongo. Once the broker is back, the
sweep, run by a worker that is not the summarizer, publishes both records: the alert reaches the
robot, and the summary waits in the summarizer's queue for a summarizer to come back.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import LOG_DIR
from tests.integration.helpers import auth, gateway_client
from tests.support import procs
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import wait_until
from tests.support.services import run_ctl

TURN = [
    {"role": "user", "content": "我想退货，上周买的耳机左边有杂音。The left earbud crackles at high volume."},
    {"role": "assistant", "content": "Sorry about that. Returns are accepted within 30 days with the receipt."},
]
ALERT = {"fingerprint": "no-summarizer-1", "title": "raised with the summarizer off", "body": "during an outage",
         "labels": {"test": "maintenance"}, "source": "maintenance-test"}  # fmt: skip


def test_outbox_is_swept_with_the_summarizer_off(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, processes: Any, db: Any, wecom: FakeWeCom
) -> None:
    tuning = {"SUMMARY_TRIGGER_TOKENS": "50", "OUTBOX_SWEEP_INTERVAL_SECONDS": "2", "OUTBOX_GRACE_SECONDS": "1"}
    tuning |= {"WECOM_WEBHOOK_URL": wecom.url(), "ALERT_GROUP_WAIT_SECONDS": "0"}
    worker_env.update({f"RAGTASKS_{k}": v for k, v in tuning.items()})
    *_, gw = procs.start_together(  # no summarizer anywhere
        lambda: start_worker("evaluator", worker_env, concurrency=1),
        lambda: start_worker("alerter", worker_env, concurrency=1),
        lambda: start_gateway(worker_env),
    )
    beat = procs.start_beat(worker_env, LOG_DIR)
    processes.append(beat)

    with gateway_client(gw.port) as client:
        run_ctl("stop_app")
        try:
            r = client.post("/v1/alerts", json=ALERT, headers=auth())
            assert r.status_code == 202, r.text
            [alert_task] = r.json()["task_ids"]
            r = client.post("/v1/sessions/no-summarizer/messages", json={"messages": TURN * 2}, headers=auth())
            assert r.status_code == 200, r.text
        finally:
            run_ctl("start_app")

    pending = db.sessions.find_one({"_id": "no-summarizer"})["summary_pending"]
    assert pending is not None and pending["published"] is False, pending
    assert db.outbox.find_one({"_id": alert_task})["published_at"] is None

    # The sweep runs on the maintenance queue: here only evaluator and alerter workers consume it.
    def swept() -> bool:
        assert beat.alive(), beat.log_text()[-3000:]
        alert = db.outbox.find_one({"_id": alert_task})
        session = db.sessions.find_one({"_id": "no-summarizer"})
        return alert["published_at"] is not None and session["summary_pending"]["published"] is True

    wait_until(swept, 90, 0.5, "the sweep to publish the outbox records without a summarizer")
    wait_until(lambda: any(ALERT["title"] in m.content for m in wecom.messages()), 60, 0.5, "the alert at the robot")
    # The sweep's own log line ("outbox sweep published ...") is in a non-summarizer worker's log.
    ran_sweep = [p.name for p in processes if "outbox sweep published" in p.log_text()]
    assert ran_sweep and set(ran_sweep) <= {"worker-evaluator", "worker-alerter"}, ran_sweep
