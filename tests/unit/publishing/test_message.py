"""The pika publisher's protocol-v2 message is what Celery's own send_task puts on the wire."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ragtasks_core.contract import MAINTENANCE_QUEUE, SCHEDULED_TASKS, Queue, route_for
from ragtasks_publisher import build_message, queue_of
from ragtasks_publisher.message import PUBLISHED_AT_HEADER, QUEUES


def test_protocol_v2_headers_body_and_properties() -> None:
    m = build_message("ragtasks.summarizer.summarize_session", {"v": 1, "session_id": "s1"}, task_id="t-1", now=12.5)
    assert (m.exchange, m.routing_key, m.task_id) == ("ragtasks", "summarizer", "t-1")
    assert m.content_type == "application/json" and m.content_encoding == "utf-8" and m.delivery_mode == 2
    assert m.properties["correlation_id"] == "t-1"
    h = m.headers
    assert h["lang"] == "py" and h["task"] == "ragtasks.summarizer.summarize_session"
    assert h["id"] == h["root_id"] == "t-1" and h["parent_id"] is None and h["group"] is None
    assert h["retries"] == 0 and h["timelimit"] == [None, None] and h["eta"] is None and h["expires"] is None
    assert h["kwargsrepr"] == "{'v': 1, 'session_id': 's1'}" and h["argsrepr"] == "()"
    assert h["ignore_result"] is False and h["origin"]
    assert h[PUBLISHED_AT_HEADER] == "12.500000"
    assert json.loads(m.body) == [
        [],
        {"v": 1, "session_id": "s1"},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]


def test_same_wire_format_as_celery() -> None:
    """Celery's own message for the same call has the same header keys and body (modulo values)."""
    from celery import Celery

    app = Celery("x", broker="amqp://127.0.0.1:5672//", set_as_current=False)
    headers, properties, body, _ = app.amqp.as_task_v2("t-1", "ragtasks.summarizer.ping", kwargs={"v": 1})
    ours = build_message("ragtasks.summarizer.ping", {"v": 1}, task_id="t-1")
    assert set(headers) <= set(ours.headers)
    assert json.loads(ours.body) == json.loads(json.dumps(list(body)))
    assert properties["correlation_id"] == ours.properties["correlation_id"]


@pytest.mark.parametrize("name", ["summarize", "ragtasks.nope.x", "ragtasks.summarizer", "other.summarizer.x"])
def test_unknown_task_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown task name"):
        queue_of(name)


def test_publisher_imports_neither_celery_nor_pydantic() -> None:
    mods = "('celery', 'kombu', 'pydantic', 'ragtasks_core')"
    code = f"import sys, ragtasks_publisher; print(sorted(m for m in {mods} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_publishers_queues_are_the_contracts_owners() -> None:
    # ragtasks_publisher imports nothing of ragtasks_core: this is what keeps its copy honest.
    assert tuple(queue.value for queue in Queue) == QUEUES
    assert MAINTENANCE_QUEUE not in QUEUES  # a route, never a part of a task name


@pytest.mark.parametrize("task", sorted(SCHEDULED_TASKS))
def test_scheduled_tasks_published_by_name_reach_their_owner(task: str) -> None:
    # Beat routes them to `maintenance`; `ragtasks publish` routes by name, to the owner's queue,
    # whose worker registers them too (both queues' workers run the same task).
    assert build_message(task, {"v": 1}).routing_key == queue_of(task) == task.split(".")[1]
    assert route_for(task) == MAINTENANCE_QUEUE


def test_maintenance_is_not_a_task_name_owner() -> None:
    with pytest.raises(ValueError, match="unknown task name"):
        queue_of("ragtasks.maintenance.sweep_outbox")
