"""Celery message protocol v2, built by hand: headers, properties and the JSON body.

Pure functions over plain data (no I/O). See ``docs/contract.md`` for the field-by-field
description; this module is its executable form.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# The topic exchange every task goes through; routing key = queue = the task name's 2nd part.
EXCHANGE = "ragtasks"
# The owners a task name may name (``contract.Queue``; this package imports nothing of ragtasks_core,
# tests/unit/publishing/test_message.py keeps the two equal). Not ``maintenance``: beat's tasks keep
# their owner's name (``ragtasks.summarizer.sweep_outbox``), so a publisher routing by name reaches
# the owner's queue, whose worker registers them too; only beat routes them to ``maintenance``.
QUEUES = ("summarizer", "evaluator", "alerter")
# ragtasks' own header, read by the workers' queue-wait metric: Unix seconds as a decimal string
# (AMQP floats are not portable: pika, for one, cannot encode them).
PUBLISHED_AT_HEADER = "ragtasks_published_at"
# W3C trace-context: the task's span joins the producer's trace (Celery's OpenTelemetry
# instrumentation reads this header). Version 00, non-zero lower-case hex ids, flags.
TRACEPARENT_HEADER = "traceparent"
TRACEPARENT_RE = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2


def queue_of(task: str) -> str:
    """``ragtasks.summarizer.summarize_session`` -> ``summarizer``; ValueError otherwise."""
    parts = task.split(".")
    if len(parts) != 3 or parts[0] != "ragtasks" or parts[1] not in QUEUES or not parts[2]:
        raise ValueError(f"unknown task name {task!r}: expected ragtasks.<{'|'.join(QUEUES)}>.<name>")
    return parts[1]


@dataclass(frozen=True)
class TaskMessage:
    """Everything ``basic_publish`` needs: where, the AMQP properties and the body bytes."""

    task_id: str
    exchange: str
    routing_key: str
    headers: dict[str, Any]
    body: bytes
    content_type: str = CONTENT_TYPE
    content_encoding: str = CONTENT_ENCODING
    delivery_mode: int = PERSISTENT
    properties: dict[str, Any] = field(default_factory=dict)


def origin() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def build_message(
    task: str,
    kwargs: dict[str, Any] | None = None,
    *,
    task_id: str | None = None,
    args: list[Any] | None = None,
    expires: str | None = None,
    eta: str | None = None,
    now: float | None = None,
    traceparent: str | None = None,
) -> TaskMessage:
    """Build one protocol-v2 task message (what Celery's ``send_task`` would put on the wire).

    ``expires``/``eta`` are ISO-8601 strings with a UTC offset, or None. ``traceparent``: a W3C
    ``traceparent`` sent as the header of that name (ValueError if malformed), or None.
    """
    if traceparent is not None and not TRACEPARENT_RE.match(traceparent):
        raise ValueError(f"not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, lower case): {traceparent!r}")
    queue = queue_of(task)
    task_id = task_id or str(uuid.uuid4())
    args = list(args or [])
    kwargs = dict(kwargs or {})
    headers: dict[str, Any] = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "shadow": None,
        "eta": eta,
        "expires": expires,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": repr(tuple(args)),
        "kwargsrepr": repr(kwargs),
        "origin": origin(),
        "ignore_result": False,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
        PUBLISHED_AT_HEADER: f"{time.time() if now is None else now:.6f}",
    }
    if traceparent is not None:
        headers[TRACEPARENT_HEADER] = traceparent
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([args, kwargs, embed], ensure_ascii=False, separators=(",", ":")).encode(CONTENT_ENCODING)
    return TaskMessage(
        task_id=task_id,
        exchange=EXCHANGE,
        routing_key=queue,
        headers=headers,
        body=body,
        properties={"correlation_id": task_id, "priority": 0},
    )
