"""Alerts raised while the broker is away are recorded in the outbox and delivered after.

The gateway's alert routes and the empty-retrieval rule publish through the outbox: with the
broker refusing connections they still answer 202, and once the sweep runs against a live broker
the alerter delivers every one of them to the robot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.helpers import auth
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import free_port, start_together, wait_until


def test_alerts_raised_during_an_outage_are_delivered_after(
    make_settings: Callable[..., Settings],
    worker_env: dict[str, str],
    start_worker: Any,
    db: Any,
    celery_client: Any,
    wecom: FakeWeCom,
) -> None:
    real = make_settings(
        wecom_webhook_url=wecom.url(), alert_group_wait_seconds=0, outbox_grace_seconds=0, empty_retrieval_threshold=5
    )
    down = real.model_copy(update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}//"})
    with TestClient(create_app(down)) as client:
        manual = {
            "fingerprint": "disk:db-9",
            "severity": "warning",
            "title": "Disk almost full on db-9",
            "body": "92% used",
            "labels": {"host": "db-9"},
            "source": "manual",
        }
        r = client.post("/v1/alerts", json=manual, headers=auth())
        assert r.status_code == 202, r.text
        events = [{"kb_id": "kb-outage", "query": f"q{i}", "n_results": 0} for i in range(10)]
        r = client.post("/v1/retrieval-events", json={"events": events}, headers=auth())
        assert r.status_code == 202, r.text
        assert r.json()["alerts"] == [{"kb_id": "kb-outage", "status": "firing"}]
    recorded = list(db.outbox.find({"task": TaskName.RAISE_ALERT.value}))
    assert len(recorded) == 2 and all(doc["published_at"] is None for doc in recorded)
    assert wecom.messages() == []

    # The broker is back: the sweep (beat runs it every minute) publishes, the alerter delivers.
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_OUTBOX_GRACE_SECONDS": "0",
    }
    start_together(
        lambda: start_worker("summarizer", env, concurrency=1), lambda: start_worker("alerter", env, concurrency=1)
    )
    assert celery_client.send_task(TaskName.SWEEP_OUTBOX.value, kwargs={}).get(timeout=60)["outbox"] == 2
    wait_until(
        lambda: "disk:db-9" in " ".join(m.content for m in wecom.messages()) or len(wecom.messages()) >= 2,
        60,
        0.5,
        "the alerts at the robot",
    )
    text = "\n".join(m.content for m in wecom.messages())
    assert "Disk almost full on db-9" in text
    wait_until(lambda: "kb-outage" in "\n".join(m.content for m in wecom.messages()), 60, 0.5, "the KB alert")
    assert db.outbox.count_documents({"task": TaskName.RAISE_ALERT.value, "published_at": None}) == 0
