"""Garbage lands in the dead-letter queue with its reason; ``ragtasks dlq`` lists, replays, purges."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from ragtasks_publisher import build_message
from tests.integration.helpers import wait_task
from tests.integration.publishing.helpers import dlq_list, queue_depth, ragtasks, raw_publish
from tests.support.procs import wait_until


def _v2(task: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any], bytes]:
    message = build_message(task, kwargs)
    return message.task_id, message.headers, message.body


def test_garbage_lands_in_dlq_with_reason_then_purge(
    worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings]
) -> None:
    env = worker_env
    url = env["RAGTASKS_BROKER_URL"]
    start_worker("summarizer", env, concurrency=1)
    ragtasks(env, "dlq", "purge", "summarizer", "--yes")

    invalid_id, headers, _ = _v2("ragtasks.summarizer.summarize_session", {})
    raw_publish(url, "summarizer", b"[[], {not json", headers=headers, content_type="application/json")
    unknown_id, headers, body = _v2("ragtasks.summarizer.summarize_session", {"v": 1, "session_id": "s1"})
    headers["task"] = "ragtasks.summarizer.no_such_task"
    raw_publish(url, "summarizer", body, headers=headers, content_type="application/json")
    bad_id, headers, body = _v2("ragtasks.summarizer.summarize_session", {"v": 1, "session_id": "$gt"})
    raw_publish(url, "summarizer", body, headers=headers, content_type="application/json")
    v99_id, headers, body = _v2("ragtasks.summarizer.summarize_session", {"v": 99, "session_id": "s1"})
    raw_publish(url, "summarizer", body, headers=headers, content_type="application/json")
    yaml_id, headers, _ = _v2("ragtasks.summarizer.ping", {})
    raw_publish(url, "summarizer", b"- []\n- {v: 1}\n", headers=headers, content_type="application/x-yaml")
    raw_publish(url, "summarizer", json.dumps({"v": 1}).encode(), headers=None, content_type="application/json")
    ok_id, headers, body = _v2("ragtasks.summarizer.ping", {"v": 1})
    raw_publish(url, "summarizer", body, headers=headers, content_type="application/json")

    wait_until(lambda: queue_depth(url, "summarizer.dlq") >= 6, 60, 0.5, "6 dead letters")
    with TestClient(create_app(make_settings())) as client:
        assert wait_task(client, ok_id)["state"] == "SUCCESS"  # the good one, published last, ran
    listing = dlq_list(env, "summarizer")
    assert listing["count"] == 6, listing  # exactly one copy each
    by_id = {m["task_id"]: m for m in listing["messages"]}
    print(json.dumps(listing, indent=1))
    assert "unknown payload version v=99" in by_id[v99_id]["reason"]
    assert "invalid SummarizeSession payload" in by_id[bad_id]["reason"]
    assert "session_id" in by_id[bad_id]["reason"]
    assert "unknown task name 'ragtasks.summarizer.no_such_task'" in by_id[unknown_id]["reason"]
    assert "invalid task message" in by_id[yaml_id]["reason"] and "yaml" in by_id[yaml_id]["reason"]
    assert "cannot decode the body as 'application/json'" in by_id[invalid_id]["reason"]
    assert by_id[None]["reason"].startswith("not a Celery protocol v2 task message")
    for message in listing["messages"]:
        assert message["routing_key"] == "summarizer"
        assert message["age_seconds"] is not None and 0 <= message["age_seconds"] < 120
    assert ok_id not in by_id

    with TestClient(create_app(make_settings())) as client:
        failed = wait_task(client, v99_id)
        assert failed["state"] == "FAILURE" and "unknown payload version" in failed["error"], failed

    # --limit bounds the listing; purge asks for confirmation.
    assert len(dlq_list(env, "summarizer", limit=2)["messages"]) == 2
    refused = ragtasks(env, "dlq", "purge", "summarizer", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert queue_depth(url, "summarizer.dlq") == 6
    assert "purged 6" in ragtasks(env, "dlq", "purge", "summarizer.dlq", "--yes").stdout
    assert queue_depth(url, "summarizer.dlq") == 0
    unknown = ragtasks(env, "dlq", "list", "nope", check=False)
    assert unknown.returncode != 0 and "unknown queue 'nope'" in unknown.stderr
