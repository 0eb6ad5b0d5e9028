"""The poison matrix: every malformed task message shape, against each worker's real process.

Before the consumer checked the shape of a message, most of these ended the worker process with
Celery's "Unrecoverable error"; the broker redelivered the message to the restarted worker, which
died again, until the quorum delivery limit dead-lettered it (6 deaths, the queue with no consumer
meanwhile). Now each is dead-lettered once, with a reason naming what was wrong, and acked; the
worker keeps its PID and its pool, and runs the next task.

A reader sees the whole hostile surface of a worker queue here: ``SHAPES`` is the matrix.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult

from ragtasks_core import dlq
from ragtasks_core.contract import Queue
from ragtasks_publisher import build_message
from tests.integration.publishing.helpers import dlq_list, queue_depth, raw_publish
from tests.support.procs import wait_until

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
DROP = object()  # a header to leave out
MALFORMED = "malformed task message: "
BODY_SHAPE = MALFORMED + "the body must be the JSON array [args, kwargs, embed], got "
ARGS, KWARGS, EMBEDDED = (f"{MALFORMED}{part} (the body's {nth} item) must be" for part, nth in
                          (("args", "first"), ("kwargs", "second"), ("embed", "third")))  # fmt: skip
TIMELIMIT = MALFORMED + "header 'timelimit' must be [hard, soft]"
# A valid eta two days ahead (RAGTASKS_MAX_ETA_SECONDS is an hour): without the check the worker holds
# it unacked until the broker's consumer timeout, again and again until the delivery limit.
FAR_ETA = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@dataclass(frozen=True)
class Shape:
    """One poison message: what it changes in a valid ping message, and the reason expected."""

    name: str
    reason: str
    body: bytes | None = None  # None: the valid body
    headers: dict[str, Any] = field(default_factory=dict)  # overrides; DROP removes the header


def _body(args: Any = None, kwargs: Any = None, embed: Any = EMBED) -> bytes:
    """A body like a valid ping's, with one of its three items replaced."""
    return json.dumps([[] if args is None else args, {"v": 1} if kwargs is None else kwargs, embed]).encode()


SHAPES = (
    # The body is not [args, kwargs, embed].
    Shape("body null", BODY_SHAPE + "null", b"null"),
    Shape("body a number", BODY_SHAPE + "number 123", b"123"),
    Shape("body an object", BODY_SHAPE + "object {'v': 1}", b'{"v": 1}'),
    Shape("body a Celery protocol-1 hybrid", BODY_SHAPE + "object", b'{"args": [], "kwargs": {"v": 1}}'),
    Shape("body of two items", BODY_SHAPE + "array", b'[[], {"v": 1}]'),
    Shape("body not JSON", "cannot decode the body as 'application/json'", b'[[], {"v": '),
    Shape("body nested too deep", "cannot decode the body as 'application/json'", b"[" * 100_000 + b"]" * 100_000),
    Shape("args an object", ARGS + " an array", _body(args={"x": 1})),
    Shape("kwargs an array", KWARGS + " an object, got array", _body(kwargs=[1])),
    Shape("kwargs a string", KWARGS + " an object, got string", _body(kwargs="v")),
    Shape("embed an array", EMBEDDED + " an object or null", _body(embed=[1])),
    Shape("embed a string", EMBEDDED + " an object or null", _body(embed="x")),
    Shape("embed callbacks a string", MALFORMED + "embed 'callbacks' must", _body(embed={**EMBED, "callbacks": "x"})),
    # Headers of the wrong type, or missing.
    Shape("timelimit 'x'", TIMELIMIT, headers={"timelimit": "x"}),
    Shape("timelimit negative", TIMELIMIT, headers={"timelimit": [-1, None]}),
    Shape("no id header", MALFORMED + "no 'id' header", headers={"id": DROP}),
    Shape("id a number", MALFORMED + "header 'id' must be a task id", headers={"id": 12345}),
    Shape("task header a list", MALFORMED + "header 'task' must be a task name", headers={"task": ["ragtasks.x.ping"]}),
    Shape("no task header", "not a Celery protocol v2 task message (no 'task' header)", headers={"task": DROP}),
    Shape("eta not a time", MALFORMED + "header 'eta' must be an ISO-8601 time or null", headers={"eta": "tomorrow"}),
    Shape("eta a number", MALFORMED + "header 'eta' must be an ISO-8601 time or null", headers={"eta": 5}),
    Shape("expires not a time", MALFORMED + "header 'expires' must be an ISO-8601 time", headers={"expires": "never"}),
    Shape("expires an array", MALFORMED + "header 'expires' must be an ISO-8601 time", headers={"expires": [1]}),
    Shape("retries a string", MALFORMED + "header 'retries' must be an integer >= 0", headers={"retries": "x"}),
    Shape("retries negative", MALFORMED + "header 'retries' must be an integer >= 0", headers={"retries": -1}),
    Shape("shadow a list", MALFORMED + "header 'shadow' must be a string or null", headers={"shadow": [1]}),
    Shape("eta two days ahead", f"eta {FAR_ETA!r} is ", headers={"eta": FAR_ETA}),
)  # fmt: skip


def _message(queue: str, shape: Shape) -> tuple[str | None, dict[str, Any], bytes]:
    """(the task id the DLQ listing will show, headers, body) of ``shape`` aimed at ``queue``'s ping."""
    message = build_message(f"ragtasks.{queue}.ping", {"v": 1}, task_id=f"poison-{uuid.uuid4().hex[:12]}")
    headers = {k: v for k, v in {**message.headers, **shape.headers}.items() if v is not DROP}
    listed = headers.get("id")
    return (None if listed is None else str(listed)), headers, message.body if shape.body is None else shape.body


def _pool_children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (the prefork pool of a worker's main process)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process just went away
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


@pytest.mark.parametrize("queue", [q.value for q in Queue])
def test_poison_is_dead_lettered_with_its_reason_and_the_worker_lives(
    queue: str, worker_env: dict[str, str], start_worker: Any, celery_client: Celery
) -> None:
    env, url = worker_env, worker_env["RAGTASKS_BROKER_URL"]
    worker = start_worker(queue, env, concurrency=2)
    pid = worker.popen.pid
    wait_until(lambda: len(_pool_children(pid)) == 2, 30, 0.2, "the two pool children")
    dlq.purge(url, Queue(queue))

    expected: dict[str | None, Shape] = {}
    for shape in SHAPES:
        task_id, headers, body = _message(queue, shape)
        expected[task_id] = shape
        raw_publish(url, queue, body, headers=headers, content_type="application/json")
    assert len(expected) == len(SHAPES)  # one distinct listing key per shape

    wait_until(
        lambda: queue_depth(url, f"{queue}.dlq") >= len(SHAPES),
        90,
        0.5,
        f"{len(SHAPES)} dead letters in {queue}.dlq",
        detail=lambda: worker.log_text()[-3000:],
    )
    # The same process, its pool intact, never an unrecoverable error.
    assert worker.alive() and worker.popen.pid == pid
    assert "Unrecoverable error" not in worker.log_text()
    assert len(_pool_children(pid)) == 2
    assert queue_depth(url, queue) == 0

    ok_id, headers, body = _message(queue, Shape("valid", ""))
    raw_publish(url, queue, body, headers=headers, content_type="application/json")
    assert AsyncResult(ok_id, app=celery_client).get(timeout=60) == "pong"  # a ping, after the whole matrix
    null_id = next(k for k, s in expected.items() if s.name == "body null")
    failed = AsyncResult(null_id, app=celery_client)  # a usable id: its result says why
    assert failed.state == "FAILURE" and "got null" in str(failed.result), (failed.state, failed.result)

    listing = dlq_list(env, queue, limit=100)
    assert listing["count"] == len(SHAPES), listing  # exactly one copy each
    by_id = {item["task_id"]: item for item in listing["messages"]}
    for task_id, shape in expected.items():
        item = by_id[task_id]
        assert item["reason"].startswith(shape.reason), (shape.name, item["reason"])
        assert item["routing_key"] == queue, (shape.name, item)
    assert worker.alive() and worker.popen.pid == pid
    dlq.purge(url, Queue(queue))
