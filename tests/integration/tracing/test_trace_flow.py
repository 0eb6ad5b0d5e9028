"""One trace from the API call to the LLM call, across real processes (issue 18).

The gateway runs as uvicorn, the summarizer as a real prefork worker, both exporting with the
real OTLP/HTTP exporter to a local receiver; the LLM is the fake OpenAI server. Each test reads
the spans back and checks the trace's shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from typing import Any

from tests.integration.helpers import auth, gateway_client, wait_task
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan

SUMMARIZE = "ragtasks.summarizer.summarize_session"
SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP's Span.SpanKind values


def traced_env(worker_env: dict[str, str], llm: FakeOpenAI, otlp: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {
        **worker_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.origin,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        **llm.env(),
        "RAGTASKS_LLM_BACKOFF_BASE_SECONDS": "1",
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "1",
        # The first append crosses the threshold.
        "RAGTASKS_SUMMARY_TRIGGER_TOKENS": "20",
        **extra,
    }


def turn(marker: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"{marker} my left earbud crackles at high volume, can I return it?"},
        {"role": "assistant", "content": f"{marker} yes: returns are accepted within 30 days with the receipt."},
    ]


def one(spans: list[ReceivedSpan], **match: Any) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.service, s.name) for s in spans])
    return found[0]


def append_and_summarize(env: dict[str, str], start_worker: Any, start_gateway: Any, marker: str) -> str:
    _, gw = procs.start_together(lambda: start_worker("summarizer", env, concurrency=1), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        session_id = f"chat-{uuid.uuid4().hex[:8]}"
        r = client.post(f"/v1/sessions/{session_id}/messages", json={"messages": turn(marker)}, headers=auth())
        assert r.status_code == 200, r.text
        task_id = r.json()["summary_task_id"]
        assert task_id, r.json()
        done = wait_task(client, task_id)
        assert done["state"] == "SUCCESS", done
    return str(task_id)


def assert_no_content(spans: list[ReceivedSpan], marker: str) -> None:
    """No attribute of any exported span holds message text (the marker is in every message)."""
    leaked = [(s.service, s.name, k) for s in spans for k, v in s.attributes.items() if marker in json.dumps(v)]
    assert not leaked, leaked


def test_one_append_is_one_trace_from_http_to_llm(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI, otlp: OtlpReceiver
) -> None:
    marker = f"mk{uuid.uuid4().hex[:12]}"
    env = traced_env(worker_env, fake_llm, otlp)
    task_id = append_and_summarize(env, start_worker, start_gateway, marker)
    spans = otlp.wait_for(
        lambda ss: any(s.name == f"run/{SUMMARIZE}" for s in ss) and any(s.name.startswith("chat ") for s in ss),
        message="the task and LLM spans",
    )
    http = one(spans, service="ragtasks-gateway", kind=SERVER, name="POST /v1/sessions/{session_id}/messages")
    spans = otlp.settle()
    trace = otlp.trace(http.trace_id)
    publish = one(trace, service="ragtasks-gateway", kind=PRODUCER, name=f"apply_async/{SUMMARIZE}")
    task = one(trace, service="ragtasks-summarizer", kind=CONSUMER, name=f"run/{SUMMARIZE}")
    llm = one(trace, service="ragtasks-summarizer", name="chat fake-model")
    assert publish.attributes["messaging.message.id"] == task_id
    assert task.parent_span_id == publish.span_id
    assert llm.attributes["gen_ai.request.model"] == "fake-model"
    assert llm.attributes["gen_ai.usage.input_tokens"] > 0
    assert llm.attributes["gen_ai.usage.output_tokens"] > 0
    # ragtasks' own spans: the limiter wait before the call (ids and numbers only).
    fold = one(trace, name="ragtasks.summary.fold")
    assert fold.parent_span_id == task.span_id and llm.parent_span_id == fold.span_id
    assert fold.attributes["ragtasks.summary.from_seq"] == 0 and fold.attributes["ragtasks.summary.upto_seq"] == 1
    assert fold.attributes["ragtasks.summary.tokens_in"] > 0 and fold.attributes["ragtasks.summary.tokens_out"] > 0
    assert fold.attributes["ragtasks.summary.outcome"] == "committed"
    wait = one(trace, name="ragtasks.ratelimit.wait")
    assert (wait.parent_span_id, wait.attributes["ragtasks.ratelimit.outcome"]) == (fold.span_id, "acquired")
    assert wait.attributes["ragtasks.ratelimit.name"] == "llm"
    # The worker's Mongo reads are in the task's trace too.
    assert any(s.scope.endswith("pymongo") and s.service == "ragtasks-summarizer" for s in trace)
    assert_no_content(spans, marker)


def test_a_task_retried_after_503_stays_in_the_trace(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI, otlp: OtlpReceiver
) -> None:
    marker = f"mk{uuid.uuid4().hex[:12]}"
    fake_llm.push(Reply(status=503))
    env = traced_env(worker_env, fake_llm, otlp)
    append_and_summarize(env, start_worker, start_gateway, marker)
    otlp.wait_for(lambda ss: sum(s.name == f"run/{SUMMARIZE}" for s in ss) >= 2, message="two task runs")
    spans = otlp.settle()
    http = one(spans, service="ragtasks-gateway", kind=SERVER, name="POST /v1/sessions/{session_id}/messages")
    runs = [s for s in spans if s.name == f"run/{SUMMARIZE}"]
    assert len(runs) == 2
    assert {s.trace_id for s in runs} == {http.trace_id}
    llm_calls = [s for s in spans if s.name == "chat fake-model"]
    assert len(llm_calls) == 2 and {s.trace_id for s in llm_calls} == {http.trace_id}
    # The retry is published from inside the first run: the second run is its grandchild.
    retry_publish = one(spans, kind=PRODUCER, service="ragtasks-summarizer")
    assert {retry_publish.parent_span_id} <= {s.span_id for s in runs}
    assert any(s.parent_span_id == retry_publish.span_id for s in runs)
    assert_no_content(spans, marker)


def test_a_message_published_with_a_traceparent_joins_that_trace(
    worker_env: dict[str, str], start_worker: Any, fake_llm: FakeOpenAI, otlp: OtlpReceiver
) -> None:
    """An API gateway outside Python sends the W3C header: the task's span is a child of its span."""
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    env = traced_env(worker_env, fake_llm, otlp)
    start_worker("summarizer", env, concurrency=1)
    payload = json.dumps({"v": 1, "session_id": f"chat-{uuid.uuid4().hex[:8]}", "reason": "manual"})
    cli = subprocess.run(
        [
            str(procs.BIN / "ragtasks"),
            "publish",
            SUMMARIZE,
            "--json",
            payload,
            "--traceparent",
            f"00-{trace_id}-{parent_id}-01",
        ],
        env={**os.environ, **worker_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    task_id = cli.stdout.strip()
    otlp.wait_for(lambda ss: any(s.name == f"run/{SUMMARIZE}" for s in ss), message="the task span")
    task = one(otlp.all_spans(), name=f"run/{SUMMARIZE}")
    assert task.attributes["messaging.message.id"] == task_id
    assert (task.trace_id, task.parent_span_id) == (trace_id, parent_id)


def test_publish_refuses_a_malformed_traceparent(worker_env: dict[str, str]) -> None:
    cli = subprocess.run(
        [
            str(procs.BIN / "ragtasks"),
            "publish",
            SUMMARIZE,
            "--json",
            '{"v": 1, "session_id": "s", "reason": "manual"}',
            "--traceparent",
            "00-xyz-01",
        ],
        env={**os.environ, **worker_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode != 0
    assert "--traceparent" in cli.stderr and "W3C" in cli.stderr, cli.stderr
