"""Reasons of dead letters: the ones the broker made (no reason header), the ones the worker's consumer
gives a malformed message; and queue-name resolution."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import Celery
from kombu.message import Message

from ragtasks_core.celery_app import dead_letter_queues, task_queues
from ragtasks_core.consumer import DeadLetteringConsumer, refusal_reason
from ragtasks_core.contract import MAINTENANCE_QUEUE, TASK_QUEUES, Queue
from ragtasks_core.dlq import REASON_HEADER, UnknownQueue, describe, reason_of, resolve_queue
from ragtasks_core.settings import Settings
from ragtasks_publisher import build_message


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
    assert resolve_queue("alerter") == "alerter" and resolve_queue("summarizer.dlq") == "summarizer"
    # Beat's queue, which every worker consumes, has its dead letters like any other.
    assert resolve_queue("maintenance") == resolve_queue("maintenance.dlq") == MAINTENANCE_QUEUE
    with pytest.raises(UnknownQueue, match="expected one of summarizer, evaluator, alerter, maintenance"):
        resolve_queue("mailer")
    with pytest.raises(UnknownQueue):
        resolve_queue("maintenance.dlq.dlq")


def test_the_dlq_tool_knows_every_queue_the_topology_declares() -> None:
    # One list: the queues Celery declares (each with its DLQ) are exactly those ``ragtasks dlq`` takes.
    declared = [queue.name for queue in task_queues(Settings())]
    assert declared == list(TASK_QUEUES)
    assert [resolve_queue(name) for name in declared] == declared
    assert [queue.name for queue in dead_letter_queues()] == [f"{name}.dlq" for name in TASK_QUEUES]


# --- what the worker's consumer refuses before Celery reads a message, and why -----------------

PING = "ragtasks.summarizer.ping"
GOOD_HEADERS: dict[str, Any] = build_message(PING, {"v": 1}, task_id="t-1").headers
GOOD_BODY = [[], {"v": 1}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


DROP = object()  # a header to leave out
M = "malformed task message: "
TIMELIMIT = M + "header 'timelimit' must be [hard, soft]: each a number of seconds >= 0 or null, got "
EMBED = M + "embed (the body's third item) must be an object or null, got "


def _message(body: Any = GOOD_BODY, content_type: str = "application/json", **headers: Any) -> Message:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {k: v for k, v in {**GOOD_HEADERS, **headers}.items() if v is not DROP}
    return Message(body=raw, content_type=content_type, content_encoding="utf-8", headers=merged)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_message(None), M + "the body must be the JSON array [args, kwargs, embed], got null"),
        (_message(123), M + "the body must be the JSON array [args, kwargs, embed], got number 123"),
        (_message({"v": 1}), M + "the body must be the JSON array [args, kwargs, embed], got object {'v': 1}"),
        (_message([[], {}]), M + "the body must be the JSON array [args, kwargs, embed], got array [[], {}]"),
        (_message([{}, {}, None]), M + "args (the body's first item) must be an array, got object {}"),
        (_message([[], [1], None]), M + "kwargs (the body's second item) must be an object, got array [1]"),
        (_message([[], {}, "x"]), EMBED + "string 'x'"),
        (_message([[], {}, {"chord": [1]}]), M + "embed 'chord' must be an object or null, got array [1]"),
        (_message(timelimit="x"), TIMELIMIT + "string 'x'"),
        (_message(timelimit=[1, 2, 3]), TIMELIMIT + "array [1, 2, 3]"),
        (_message(id=DROP), M + "no 'id' header: a task message carries its task id"),
        (_message(id={"$gt": ""}), M + "header 'id' must be a task id (letters, digits and ._:-, at most 128), got"),
        (_message(task=["a"]), M + "header 'task' must be a task name (a non-empty string), got array ['a']"),
        (_message(task=DROP), "not a Celery protocol v2 task message (no 'task' header)"),
        (_message(eta="soon"), M + "header 'eta' must be an ISO-8601 time or null, got string 'soon'"),
        (_message(expires=3.5), M + "header 'expires' must be an ISO-8601 time or null, got number 3.5"),
        (_message(retries="1"), M + "header 'retries' must be an integer >= 0, got string '1'"),
        (_message(retries=True), M + "header 'retries' must be an integer >= 0, got boolean True"),
        (_message(ignore_result="no"), M + "header 'ignore_result' must be true, false or null, got string"),
        (_message(b"[[], {"), "cannot decode the body as 'application/json': "),
        (_message([["x"], {}, None]), f"positional arguments are not accepted: {PING} takes keyword arguments only"),
    ],
)  # fmt: skip
def test_refusal_reasons_name_what_is_wrong(message: Message, reason: str) -> None:
    got = refusal_reason(message)
    assert got is not None and got.startswith(reason), got


def test_long_values_are_clipped_in_the_reason() -> None:
    reason = refusal_reason(_message(shadow=["y" * 500])) or ""
    assert reason.endswith("...") and len(reason) < 200


def test_celery_own_messages_pass_and_the_body_is_decoded_once() -> None:
    """What Celery itself publishes (a retry with a countdown, expiry and time limits) is not refused,
    and the body decoded by the check is the one Celery's ``message.payload`` reuses."""
    app = Celery("t", set_as_current=False)
    sent = app.amqp.as_task_v2(
        "c-1", PING, kwargs={"v": 1}, countdown=10, expires=60, time_limit=30, soft_time_limit=20, retries=2
    )
    body = json.loads(json.dumps(sent.body))  # what arrives: JSON arrays, not tuples
    message = _message(body, **sent.headers)
    assert refusal_reason(message) is None
    assert message._decoded_cache == body and message.payload is message._decoded_cache
    assert refusal_reason(_message(content_type="application/x-yaml", body=b"- 1")) is None  # Celery refuses it


def test_an_aware_amqp_timestamp_is_a_valid_eta() -> None:
    assert refusal_reason(_message(eta=datetime(2030, 1, 1, tzinfo=UTC), expires=None)) is None


class _Handler(DeadLetteringConsumer):
    """The consumer's task handler around a given Celery strategy, with ``refuse`` recorded.

    Celery's ``Consumer.__init__`` needs a running worker; its task handler reads only these."""

    def __init__(self, strategy: Callable[..., Any], max_eta_seconds: float = 3600.0) -> None:
        self.app = Celery("t", set_as_current=False)
        self.max_eta_seconds = max_eta_seconds
        self.strategies = {PING: strategy}
        self.on_task_message: set[Any] = set()
        self._maximum_prefetch_restored = True
        self.restart_count = 0
        self.connection_errors = (ConnectionResetError,)
        self.channel_errors = ()
        self.refused: list[str] = []

    def refuse(self, message: Message, reason: str) -> None:
        self.refused.append(reason)


def test_whatever_celery_raises_for_a_message_dead_letters_it_and_the_consumer_carries_on() -> None:
    def broken(message: Message, *_: Any) -> None:
        raise ValueError("not enough values to unpack (expected 2, got 1)")

    handler = _Handler(broken)
    handler.create_task_handler()(_message())
    assert handler.refused == [
        M + "Celery could not turn it into a task request: ValueError: not enough values to unpack (expected 2, got 1)"
    ]
    malformed = _message(None)  # refused before Celery's strategy is called
    handler.create_task_handler()(malformed)
    assert handler.refused[-1].startswith(M + "the body must be")


def test_connection_errors_stay_celerys_and_a_settled_message_is_not_dead_lettered_twice() -> None:
    def disconnected(message: Message, *_: Any) -> None:
        raise ConnectionResetError("broker went away")

    with pytest.raises(ConnectionResetError):
        _Handler(disconnected).create_task_handler()(_message())

    def settles_then_fails(message: Message, *_: Any) -> None:
        message._state = "ACK"  # Celery acked (rejected) it, then its result backend raised
        raise RuntimeError("redis is down")

    handler = _Handler(settles_then_fails)
    handler.create_task_handler()(_message())
    assert handler.refused == []
