"""A process that imports neither Celery nor the gateway publishes every task type with pika."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.helpers import auth, wait_task
from tests.integration.publishing.helpers import ragtasks

PRODUCER = r"""
import json, sys
from ragtasks_publisher import TaskPublisher, Unroutable, build_message
from dataclasses import replace

with TaskPublisher(sys.argv[1]) as pub:
    ids = {
        "summarize": pub.publish_summarize("pika-1", reason="manual"),
        "summarizer.ping": pub.publish_ping("summarizer"),
        "evaluator.ping": pub.publish_ping("evaluator"),
        "alerter.ping": pub.publish_ping("alerter"),
    }
    try:
        pub.send(replace(build_message("ragtasks.alerter.ping", {"v": 1}), routing_key="nowhere"))
        ids["unroutable"] = "published?!"
    except Unroutable:
        ids["unroutable"] = "refused"
loaded = sorted(m for m in ("celery", "kombu", "ragtasks_core", "ragtasks_gateway", "pydantic") if m in sys.modules)
print(json.dumps({"ids": ids, "loaded": loaded}))
"""

TURN = [{"role": "user", "content": "I ordered a blue kettle."}, {"role": "assistant", "content": "Noted, blue."}]


def test_raw_pika_producer_runs_every_worker(
    worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings]
) -> None:
    env = {**worker_env, "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "1"}
    for queue in ("summarizer", "evaluator", "alerter"):
        start_worker(queue, env, concurrency=1)
    settings = make_settings(summary_keep_recent_messages=1)
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            assert (
                client.post("/v1/sessions/pika-1/messages", json={"messages": TURN}, headers=auth()).status_code == 200
            )

        out = subprocess.run(
            [sys.executable, "-c", PRODUCER, env["RAGTASKS_BROKER_URL"]],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        report = json.loads(out.stdout)
        assert report["loaded"] == [], report  # no Celery, kombu, pydantic or ragtasks code
        ids = report["ids"]
        assert ids.pop("unroutable") == "refused"  # mandatory: an unroutable message is an error

        # The operator CLI publishes through the same pika publisher, validating first.
        cli_id = ragtasks(env, "publish", "ragtasks.alerter.ping", "--json", "{}").stdout.strip()
        refused = ragtasks(env, "publish", "ragtasks.summarizer.summarize_session", "--json", '{"v": 1}', check=False)
        assert refused.returncode != 0 and "session_id" in refused.stderr

        for name, task_id in [*ids.items(), ("cli alerter.ping", cli_id)]:
            done = wait_task(client, task_id, timeout=60)
            assert done["state"] == "SUCCESS", (name, done)
        summary = wait_task(client, ids["summarize"])
        assert summary["result"]["status"] == "committed" and summary["result"]["session_id"] == "pika-1"
        ctx = client.get("/v1/sessions/pika-1/context", headers=auth()).json()
        assert ctx["summary_upto_seq"] == 3 and ctx["summary"]
