"""Reasons of dead letters the broker made (no reason header), and queue-name resolution."""

from __future__ import annotations

from datetime import datetime

import pytest

from ragtasks_core.contract import Queue
from ragtasks_core.dlq import REASON_HEADER, UnknownQueue, describe, reason_of, resolve_queue


def test_own_reason_header_wins() -> None:
    assert reason_of({REASON_HEADER: b"invalid payload", "x-death": []}, "application/json") == "invalid payload"


def test_delivery_limit_and_plain_rejects_are_explained() -> None:
    limit = {"task": "ragtasks.summarizer.ping", "x-death": [{"reason": b"delivery_limit", "count": 6}]}
    assert reason_of(limit, "application/json").startswith("delivery limit reached: delivered 6x")
    rejected = {"task": "ragtasks.summarizer.nope", "x-death": [{"reason": "rejected"}]}
    assert "unknown task name 'ragtasks.summarizer.nope'" in reason_of(rejected, "application/json")
    assert "content type" in reason_of({**rejected, "task": "ragtasks.summarizer.ping"}, "application/x-yaml")
    assert "no 'task' header" in reason_of({"x-death": [{"reason": "rejected"}]}, "application/json")


def test_describe_reads_age_and_routing_key_from_x_death() -> None:
    headers = {
        "task": "ragtasks.evaluator.ping",
        "id": "t1",
        "x-death": [{"reason": "rejected", "time": datetime.fromtimestamp(100), "routing-keys": [b"evaluator"]}],
    }
    item = describe(headers, "application/json", Queue.EVALUATOR, now=datetime.fromtimestamp(130).timestamp())
    assert (item.task_id, item.routing_key, round(item.age_seconds or 0)) == ("t1", "evaluator", 30)


def test_resolve_queue() -> None:
    assert resolve_queue("alerter") is Queue.ALERTER and resolve_queue("summarizer.dlq") is Queue.SUMMARIZER
    with pytest.raises(UnknownQueue, match="expected one of summarizer, evaluator, alerter"):
        resolve_queue("mailer")
