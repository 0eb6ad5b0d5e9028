"""ragtasks_core.tracing and the trace fields of the logs: pure parts, no collector (issue 18).

The end-to-end behaviour (one trace across gateway, broker and worker) is tested against real
processes in tests/integration/tracing/. Nothing here sets the global tracer provider: spans come
from a local SDK provider, so the rest of the test run stays untraced.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ragtasks_core import logs, tracing

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def tracer() -> trace.Tracer:
    return TracerProvider().get_tracer("test")


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
    ],
)
def test_tracing_is_on_only_with_an_endpoint(env: dict[str, str], on: bool) -> None:
    assert tracing.enabled(env) is on


def test_off_without_endpoint_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracing.setup_tracing("gateway") is False
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    assert not CeleryInstrumentor().is_instrumented_by_opentelemetry
    with tracing.span("ragtasks.test", {"n": 1}) as current:
        assert not current.is_recording()


def test_service_name_defaults_to_the_component(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert tracing.service_name("summarizer") == "ragtasks-summarizer"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "rag-eu")
    assert tracing.service_name("summarizer") == "rag-eu"


def test_setup_forces_content_capture_off_and_names_the_service() -> None:
    """In a child interpreter: setup_tracing sets the global provider, which a test run must not."""
    code = (
        "import os, json\n"
        "from opentelemetry import trace\n"
        "from ragtasks_core import tracing\n"
        "on = tracing.setup_tracing('evaluator')\n"
        "p = trace.get_tracer_provider()\n"
        "print(json.dumps({'on': on, 'capture': os.environ.get(tracing.CONTENT_CAPTURE_VARIABLE),"
        " 'hook': os.environ.get(tracing.COMPLETION_HOOK_VARIABLE),"
        " 'service': p.resource.attributes['service.name'], 'sampler': p.sampler.get_description()}))\n"
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK": "upload",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
    }
    env.pop("OTEL_SERVICE_NAME", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["on"] is True
    assert result["capture"] == "false" and result["hook"] is None
    assert result["service"] == "ragtasks-evaluator"
    assert "TraceIdRatioBased{0.1}" in result["sampler"]


@pytest.mark.parametrize(
    ("url", "scrubbed"),
    [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=REDACTED",
        ),
        ("https://user:pw@hooks.example:8443/a?b=1&c", "https://hooks.example:8443/a?b=REDACTED&c=REDACTED"),
        ("http://127.0.0.1:8000/v1/chat/completions", "http://127.0.0.1:8000/v1/chat/completions"),
    ],
)
def test_urls_lose_credentials_and_query_values(url: str, scrubbed: str) -> None:
    assert tracing.scrub_url(url) == scrubbed


def test_the_httpx_hook_rewrites_the_url_attribute(tracer: trace.Tracer) -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key"
    with tracer.start_as_current_span("POST", attributes={"url.full": url}) as span:
        tracing._scrub_url(span, SimpleNamespace(url=url))
        assert span.attributes["url.full"] == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=REDACTED"  # type: ignore[attr-defined]
        assert "http.url" not in span.attributes  # type: ignore[attr-defined]


def test_traceparent_round_trip(tracer: trace.Tracer) -> None:
    assert tracing.current_traceparent() is None
    with tracer.start_as_current_span("outer") as outer:
        context = outer.get_span_context()
        traceparent = tracing.current_traceparent()
        assert traceparent is not None and tracing.valid_traceparent(traceparent)
        # (the flags may carry W3C level 2's "random" bit beside "sampled")
        assert traceparent.startswith(
            f"00-{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}-"
        )
    with tracing.remote_parent(TP), tracer.start_as_current_span("child") as child:
        assert trace.format_trace_id(child.get_span_context().trace_id) == TP.split("-")[1]
        assert trace.format_span_id(child.parent.span_id) == TP.split("-")[2]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    ],
)
def test_invalid_traceparents_are_refused_and_ignored(value: str, tracer: trace.Tracer) -> None:
    assert not tracing.valid_traceparent(value)
    with tracing.remote_parent(value), tracer.start_as_current_span("root") as root:
        assert root.parent is None  # type: ignore[attr-defined]


def _record(message: str = "hello") -> logging.LogRecord:
    return logging.LogRecord("ragtasks.test", logging.INFO, __file__, 1, message, (), None)


def test_log_lines_carry_the_active_span(tracer: trace.Tracer) -> None:
    plain = json.loads(logs.JsonFormatter().format(_record()))
    assert "trace_id" not in plain and "span_id" not in plain
    assert "trace_id" not in logs.TextFormatter().format(_record())
    with tracer.start_as_current_span("work") as span:
        context = span.get_span_context()
        trace_id, span_id = trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
        line = json.loads(logs.JsonFormatter().format(_record()))
        text = logs.TextFormatter().format(_record())
    assert (line["trace_id"], line["span_id"], line["trace_sampled"]) == (trace_id, span_id, True)
    assert text.endswith(f"hello trace_id={trace_id} span_id={span_id}")


def test_a_prefork_worker_traces_in_its_children_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent makes no provider (its export thread would not survive the fork): the children do."""
    from celery import signals

    from ragtasks_core.worker_signals import install_worker_tracing

    called: list[str] = []
    monkeypatch.setattr(tracing, "setup_tracing", lambda component, **_: called.append(component) or True)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    try:
        install_worker_tracing("summarizer", prefork=True)
        assert called == []
        signals.worker_process_init.send(sender=None)
        assert called == ["summarizer"]
        install_worker_tracing("alerter", prefork=False)
        assert called == ["summarizer", "alerter"]
    finally:
        signals.worker_process_init.disconnect(dispatch_uid="ragtasks.worker.child_tracing")
        signals.worker_process_shutdown.disconnect(dispatch_uid="ragtasks.worker.flush_tracing")


def test_a_worker_without_endpoint_connects_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery import signals

    from ragtasks_core.worker_signals import install_worker_tracing

    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    before = len(signals.worker_process_init.receivers)
    install_worker_tracing("summarizer", prefork=True)
    assert len(signals.worker_process_init.receivers) == before


def test_the_publisher_sends_a_traceparent_header_and_refuses_a_bad_one() -> None:
    from ragtasks_publisher import build_message

    message = build_message("ragtasks.summarizer.ping", {"v": 1}, traceparent=TP)
    assert message.headers["traceparent"] == TP
    assert "traceparent" not in build_message("ragtasks.summarizer.ping", {"v": 1}).headers
    with pytest.raises(ValueError, match="W3C traceparent"):
        build_message("ragtasks.summarizer.ping", {"v": 1}, traceparent="00-abc-01")


def test_ragtasks_publish_refuses_a_bad_traceparent_before_connecting() -> None:
    from ragtasks_cli.main import main

    payload = '{"v": 1, "session_id": "s", "reason": "manual"}'
    with pytest.raises(SystemExit, match="--traceparent must be a W3C traceparent"):
        main(["publish", "ragtasks.summarizer.summarize_session", "--json", payload, "--traceparent", "00-xyz-01"])
