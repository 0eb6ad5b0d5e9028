"""Work the outbox sweep re-publishes stays in the trace of the request that wrote it.

The records are written as the gateway writes them when the broker is away (a session's pending
summary, a generic outbox record), each with the ``traceparent`` of its request; beat's sweep
publishes them later, from a task of its own, and the tasks' spans must join those traces.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ragtasks_core.contract import TaskName
from ragtasks_core.documents import outbox as outbox_docs
from ragtasks_core.documents.outbox import COLLECTION as OUTBOX
from ragtasks_core.tokens import count_message_tokens
from tests.support.otlp_receiver import OtlpReceiver

PRODUCER = 4


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _seed_unpublished_summary(db: Any, session_id: str, task_id: str, traceparent: str) -> None:
    then = datetime.now(UTC) - timedelta(minutes=5)
    contents = [f"message {i} about a crackling earbud" for i in range(1, 5)]
    db.messages.insert_many(
        [
            {
                "session_id": session_id,
                "seq": i,
                "role": "user" if i % 2 else "assistant",
                "content": text,
                "tokens": count_message_tokens("user" if i % 2 else "assistant", text),
                "created_at": then,
            }
            for i, text in enumerate(contents, start=1)
        ]
    )
    pending = {"task_id": task_id, "reason": "threshold", "requested_at": then, "published": False}
    db.sessions.insert_one(
        {
            "_id": session_id,
            "last_seq": len(contents),
            "tokens_since_summary": 100,
            "summary": None,
            "summary_upto_seq": 0,
            "summary_pending": {**pending, "traceparent": traceparent},
            "created_at": then,
            "updated_at": then,
        }
    )


def test_the_sweep_republishes_in_the_writers_trace(
    worker_env: dict[str, str], start_worker: Any, celery_client: Any, db: Any, otlp: OtlpReceiver
) -> None:
    summary_trace, summary_parent, summary_tp = _traceparent()
    ping_trace, ping_parent, ping_tp = _traceparent()
    summary_task, ping_task = str(uuid.uuid4()), str(uuid.uuid4())
    _seed_unpublished_summary(db, f"chat-{uuid.uuid4().hex[:8]}", summary_task, summary_tp)
    then = datetime.now(UTC) - timedelta(minutes=5)
    record = outbox_docs.new_record(TaskName.SUMMARIZER_PING.value, {"v": 1}, ping_task, now=then)
    db[OUTBOX].insert_one({**record, "traceparent": ping_tp})
    env = {
        **worker_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.origin,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "RAGTASKS_OUTBOX_GRACE_SECONDS": "0",
    }
    start_worker("summarizer", env, concurrency=2)
    counts = celery_client.send_task(TaskName.SWEEP_OUTBOX.value, kwargs={"v": 1}).get(timeout=60)
    assert counts["unpublished"] == 1 and counts["outbox"] == 1, counts
    names = {f"run/{TaskName.SUMMARIZE_SESSION.value}", f"run/{TaskName.SUMMARIZER_PING.value}"}
    otlp.wait_for(lambda ss: names <= {s.name for s in ss}, message="both re-published tasks' spans")
    spans = otlp.settle()
    for task_id, trace_id, parent_id in (
        (summary_task, summary_trace, summary_parent),
        (ping_task, ping_trace, ping_parent),
    ):
        [publish] = [s for s in spans if s.kind == PRODUCER and s.attributes.get("messaging.message.id") == task_id]
        [run] = [s for s in spans if s.name.startswith("run/") and s.attributes.get("messaging.message.id") == task_id]
        assert (publish.trace_id, publish.parent_span_id) == (trace_id, parent_id)
        assert (run.trace_id, run.parent_span_id) == (trace_id, publish.span_id)
