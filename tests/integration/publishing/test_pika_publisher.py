"""A process that imports neither Celery nor the gateway publishes every task type with pika.

The data some payloads name is made the way a producer would make it: the session, the knowledge
base and the evaluation through the gateway's API, the alert's notification by the alerter itself.
Then each of the ``TaskName`` tasks is published by the pika publisher (its one-call helpers where
there is one) and must reach SUCCESS, read back through ``GET /v1/tasks/{task_id}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.documents.alerts import NOTIFICATIONS
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth, wait_task
from tests.integration.publishing.helpers import ragtasks
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import free_port, wait_until

# argv: broker URL, then a JSON list of [label, method, args, kwargs]: calls on one TaskPublisher.
PRODUCER = r"""
import json, sys
from dataclasses import replace
from ragtasks_publisher import TaskPublisher, Unroutable, build_message

ids = {}
with TaskPublisher(sys.argv[1], connection_name="pika-producer-test") as pub:
    for label, method, args, kwargs in json.loads(sys.argv[2]):
        ids[label] = getattr(pub, method)(*args, **kwargs)
    try:
        pub.send(replace(build_message("ragtasks.alerter.ping", {"v": 1}), routing_key="nowhere"))
        unroutable = "published?!"
    except Unroutable:
        unroutable = "refused"
loaded = sorted(m for m in ("celery", "kombu", "ragtasks_core", "ragtasks_gateway", "pydantic") if m in sys.modules)
print(json.dumps({"ids": ids, "unroutable": unroutable, "loaded": loaded}))
"""

TURN = [{"role": "user", "content": "I ordered a blue kettle."}, {"role": "assistant", "content": "Noted, blue."}]
KB = "pika-kb"
T = TaskName
Call = tuple[str, str, list[Any], dict[str, Any]]  # label, TaskPublisher method, args, kwargs


def helper(task: TaskName, method: str, *args: Any, **kwargs: Any) -> Call:
    """Publish ``task`` with one of the publisher's one-call helpers."""
    return (task.value, method, list(args), kwargs)


def raw(task: TaskName, **payload: Any) -> Call:
    """Publish ``task`` by name with ``TaskPublisher.publish`` (no helper for it)."""
    return (task.value, "publish", [task.value, {"v": 1, **payload}], {})


def produce(url: str, calls: list[Call]) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", PRODUCER, url, json.dumps(calls)], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(out.stdout)
    assert report["loaded"] == [], report  # no Celery, kombu, pydantic or ragtasks code
    assert report["unroutable"] == "refused"  # mandatory: an unroutable message is an error
    ids: dict[str, str] = report["ids"]
    return ids


def test_raw_pika_producer_runs_every_task(
    worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings], wecom: FakeWeCom, db: Any
) -> None:
    tuning = {"SUMMARY_KEEP_RECENT_MESSAGES": "1", "ALERT_GROUP_WAIT_SECONDS": "0", "WECOM_WEBHOOK_URL": wecom.url()}
    env = {**worker_env, **{f"RAGTASKS_{k}": v for k, v in tuning.items()}}
    for queue in ("summarizer", "evaluator", "alerter"):
        start_worker(queue, env, concurrency=1)
    url = env["RAGTASKS_BROKER_URL"]
    with TestClient(create_app(make_settings(**{k.lower(): v for k, v in tuning.items()}))) as client:
        # What the payloads name, made through the API.
        for _ in range(2):
            r = client.post("/v1/sessions/pika-1/messages", json={"messages": TURN}, headers=auth())
            assert r.status_code == 200, r.text
        load_kb(client, KB, LEE[:12])
        evaluation_id = start_evaluation(client, KB, sample_size=4, seed=7, k=[1, 3])
        assert wait_evaluation(client, evaluation_id)["status"] == "done"

        ids = produce(
            url,
            [
                helper(T.SUMMARIZE_SESSION, "publish_summarize", "pika-1", reason="manual"),
                helper(T.SUMMARIZER_PING, "publish_ping", "summarizer"),
                raw(T.SWEEP_OUTBOX),
                raw(T.DELETE_IDLE_SESSIONS),  # retention unset: it deletes nothing, and succeeds
                helper(T.EVALUATOR_PING, "publish_ping", "evaluator"),
                helper(T.RUN_EVALUATION, "publish_evaluation", evaluation_id),  # re-run of a finished one
                raw(T.EVALUATE_BATCH, evaluation_id=evaluation_id, batch=0),
                raw(T.FINALIZE_EVALUATION, evaluation_id=evaluation_id),
                helper(T.MAINTAIN_KB, "publish_maintain_kb", KB),
                helper(T.NIGHTLY, "publish_nightly", []),  # maintenance of every KB, no new evaluation
                helper(T.ALERTER_PING, "publish_ping", "alerter"),
                helper(
                    T.RAISE_ALERT,
                    "publish_alert",
                    fingerprint="pika-1",
                    severity="warning",
                    title="from pika",
                    body="raised by a producer without Celery",
                    labels={"via": "pika"},
                    source="api",
                ),
                raw(T.FLUSH_ALERTS),
            ],
        )
        # The alerter stored the alert's notification and delivered it: deliver it again by id.
        wait_until(lambda: db[NOTIFICATIONS].count_documents({"state": "sent"}) == 1, 60, 0.3, "the notification")
        [note] = db[NOTIFICATIONS].find({})
        # This producer's URL is a failover list whose first host refuses connections: pika moves on.
        failover = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F;{url}"
        ids |= produce(failover, [raw(T.DELIVER_ALERT, notification_id=note["_id"])])
        assert set(ids) == {t.value for t in TaskName}, "every task name is published"

        # The operator CLI publishes through the same pika publisher, validating first.
        ids["cli alerter.ping"] = ragtasks(env, "publish", "ragtasks.alerter.ping", "--json", "{}").stdout.strip()
        refused = ragtasks(env, "publish", "ragtasks.summarizer.summarize_session", "--json", '{"v": 1}', check=False)
        assert refused.returncode != 0 and "session_id" in refused.stderr

        done = {name: wait_task(client, task_id, timeout=90) for name, task_id in ids.items()}
        assert all(d["state"] == "SUCCESS" for d in done.values()), {
            n: d for n, d in done.items() if d["state"] != "SUCCESS"
        }
        summary = done[TaskName.SUMMARIZE_SESSION.value]["result"]
        assert summary["status"] == "committed" and summary["session_id"] == "pika-1"
        ctx = client.get("/v1/sessions/pika-1/context", headers=auth()).json()
        assert ctx["summary_upto_seq"] == 3 and ctx["summary"]
        assert done[TaskName.RUN_EVALUATION.value]["result"]["evaluation_id"] == evaluation_id
        assert KB in done[TaskName.MAINTAIN_KB.value]["result"]
        assert done[TaskName.NIGHTLY.value]["result"]["maintained"] == [KB]
        assert done[TaskName.DELIVER_ALERT.value]["result"]["action"] == "skipped"  # already sent: not twice
        assert len(wecom.messages()) == 1 and "from pika" in wecom.messages()[0].content
