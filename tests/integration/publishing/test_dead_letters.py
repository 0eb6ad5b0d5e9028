"""Garbage lands in each worker queue's dead-letter queue with its reason; ``ragtasks dlq`` lists, purges.

One worker per queue, the same kinds of garbage for each: every queue's consumer refuses the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core import dlq
from ragtasks_core.contract import Queue
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from ragtasks_publisher import build_message
from tests.integration.helpers import wait_task
from tests.integration.publishing.helpers import dlq_list, queue_depth, ragtasks, raw_publish
from tests.support.procs import metric_value, metrics_text, wait_until

# Per queue: a task with a payload model, its model's name, and a payload that fails validation.
QUEUES = {
    "summarizer": ("ragtasks.summarizer.summarize_session", "SummarizeSession", {"session_id": "$gt"}),
    "evaluator": ("ragtasks.evaluator.run_evaluation", "RunEvaluation", {"evaluation_id": "$gt"}),
    "alerter": ("ragtasks.alerter.deliver", "DeliverAlert", {"notification_id": {"$ne": None}}),
}
GARBAGE = 7


def _v2(task: str, kwargs: dict[str, Any], args: list[Any] | None = None) -> tuple[str, dict[str, Any], bytes]:
    message = build_message(task, kwargs, args=args)
    return message.task_id, message.headers, message.body


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_garbage_lands_in_dlq_with_reason_then_purge(
    queue: str, worker_env: dict[str, str], start_worker: Any, make_settings: Callable[..., Settings]
) -> None:
    env = worker_env
    url = env["RAGTASKS_BROKER_URL"]
    task, model, invalid = QUEUES[queue]
    ping = f"ragtasks.{queue}.ping"
    worker = start_worker(queue, env, concurrency=1)
    dlq.purge(url, Queue(queue))  # in-process: the CLI's purge is checked below

    def send(body: bytes, headers: dict[str, Any] | None, content_type: str = "application/json") -> None:
        raw_publish(url, queue, body, headers=headers, content_type=content_type)

    undecodable_id, headers, _ = _v2(task, {})
    send(b"[[], {not json", headers)
    unknown_id, headers, body = _v2(ping, {"v": 1})
    headers["task"] = f"ragtasks.{queue}.no_such_task"
    send(body, headers)
    invalid_id, headers, body = _v2(task, {"v": 1, **invalid})
    send(body, headers)
    v99_id, headers, body = _v2(task, {"v": 99, **invalid})
    send(body, headers)
    yaml_id, headers, _ = _v2(ping, {})
    send(b"- []\n- {v: 1}\n", headers, "application/x-yaml")
    send(json.dumps({"v": 1}).encode(), None)  # not a task message at all
    positional_id, headers, body = _v2(ping, {"v": 1}, args=["x"])  # [["x"], {"v": 1}, {...}]
    send(body, headers)
    ok_id, headers, body = _v2(ping, {"v": 1})
    send(body, headers)

    wait_until(lambda: queue_depth(url, f"{queue}.dlq") >= GARBAGE, 60, 0.5, f"{GARBAGE} dead letters")
    with TestClient(create_app(make_settings())) as client:
        assert wait_task(client, ok_id)["state"] == "SUCCESS"  # the good one, published last, ran
        listing = dlq_list(env, queue)
        assert listing["count"] == GARBAGE, listing  # exactly one copy each
        by_id = {m["task_id"]: m for m in listing["messages"]}
        print(json.dumps(listing, indent=1))
        assert f"unknown payload version v=99 for {model}" in by_id[v99_id]["reason"]
        assert f"invalid {model} payload" in by_id[invalid_id]["reason"]
        assert next(iter(invalid)) in by_id[invalid_id]["reason"]  # names the field
        assert f"unknown task name 'ragtasks.{queue}.no_such_task'" in by_id[unknown_id]["reason"]
        assert "invalid task message" in by_id[yaml_id]["reason"] and "yaml" in by_id[yaml_id]["reason"]
        assert "cannot decode the body as 'application/json'" in by_id[undecodable_id]["reason"]
        assert by_id[None]["reason"].startswith("not a Celery protocol v2 task message")
        assert by_id[positional_id]["reason"].startswith("positional arguments are not accepted"), by_id
        assert "keyword arguments only" in by_id[positional_id]["reason"]
        for message in listing["messages"]:
            assert message["routing_key"] == queue
            assert message["age_seconds"] is not None and 0 <= message["age_seconds"] < 120
        assert ok_id not in by_id

        for refused_id, why in ((v99_id, "unknown payload version"), (positional_id, "positional arguments")):
            failed = wait_task(client, refused_id)
            assert failed["state"] == "FAILURE" and why in failed["error"], failed

    # The two payloads the task itself refused (invalid, v99) count as rejected, not as failures of
    # the work; the rest never reached the task.
    def outcome(name: str) -> float:
        return metric_value(metrics_text(worker.port), "ragtasks_tasks_total", {"task": task, "outcome": name})

    wait_until(lambda: outcome("rejected") >= 2, 10, 0.2, "the rejected count")
    assert [outcome(o) for o in ("rejected", "failure", "success", "retry")] == [2, 0, 0, 0]

    if queue != "summarizer":
        dlq.purge(url, Queue(queue))
        return
    # The CLI, once: --limit bounds the listing; purge asks for confirmation.
    assert len(dlq_list(env, queue, limit=2)["messages"]) == 2
    refused = ragtasks(env, "dlq", "purge", queue, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert queue_depth(url, f"{queue}.dlq") == GARBAGE
    assert f"purged {GARBAGE}" in ragtasks(env, "dlq", "purge", f"{queue}.dlq", "--yes").stdout
    assert queue_depth(url, f"{queue}.dlq") == 0
    unknown = ragtasks(env, "dlq", "list", "nope", check=False)
    assert unknown.returncode != 0 and "unknown queue 'nope'" in unknown.stderr
