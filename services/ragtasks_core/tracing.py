"""OpenTelemetry tracing: one set-up per process, configured only by the standard ``OTEL_*`` variables.

- **Off unless an endpoint is set.** Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its
  ``..._TRACES_ENDPOINT`` form) ``setup_tracing`` does nothing: no provider, no exporter, no
  instrumentation, and the spans of :func:`span` are the API's no-op ones. ``OTEL_SDK_DISABLED=true``
  and ``OTEL_TRACES_EXPORTER=none`` switch it off too.
- **Standard variables only.** The SDK itself reads ``OTEL_TRACES_SAMPLER``/``_ARG`` (default
  ``parentbased_always_on``), ``OTEL_BSP_*`` and the exporter's ``OTEL_EXPORTER_OTLP_*``
  (OTLP over HTTP/protobuf); ``OTEL_SERVICE_NAME`` overrides the component's default name
  (``ragtasks-gateway``, ``ragtasks-summarizer``, ...).
- **Upstream instrumentations** of the libraries every component uses (Celery, PyMongo, Redis,
  httpx, the OpenAI client); FastAPI's is applied to the gateway's app by :func:`instrument_fastapi`.
- **One provider per process, made in that process.** A ``BatchSpanProcessor``'s export thread does
  not survive ``fork``, so a prefork worker's children call ``setup_tracing`` from
  ``worker_process_init`` and the parent never makes one (``worker_signals``).
- **No content, no secrets.** Message content capture of the GenAI instrumentation is forced off,
  PyMongo statements are not captured (the default), Redis arguments are masked by upstream, and
  the query strings of the URLs httpx spans carry are scrubbed (a WeCom webhook's ``key=``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACER_NAME = "ragtasks"
# The W3C header Celery's instrumentation reads from a task message (docs/contract.md).
TRACEPARENT_HEADER = "traceparent"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
CONTENT_CAPTURE_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# A completion hook (e.g. ``upload``) would ship prompts and completions elsewhere: never wanted.
COMPLETION_HOOK_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_COMPLETION_HOOK"
# Every component's client libraries; the gateway adds FastAPI on its app.
CLIENT_LIBRARIES = ("celery", "pymongo", "redis", "httpx", "openai")
# W3C trace-context: version 00, a non-zero trace id and parent id, flags.
_TRACEPARENT_RE = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_PROPAGATOR = TraceContextTextMapPropagator()
# The URL attributes of HTTP client spans, old and stable semantic conventions.
_URL_ATTRIBUTES = ("url.full", "http.url")

AttributeValue = str | bool | int | float


def service_name(component: str) -> str:
    """``OTEL_SERVICE_NAME`` if set, else ``ragtasks-<component>``."""
    return os.environ.get("OTEL_SERVICE_NAME") or f"ragtasks-{component}"


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` environment asks for traces to be exported."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


class _State:
    """The process's provider; ``pid`` tells a forked child that it has none of its own yet."""

    provider: Any = None
    pid: int | None = None
    instrumented: frozenset[str] = frozenset()


def setup_tracing(component: str, *, libraries: Collection[str] = CLIENT_LIBRARIES) -> bool:
    """Install this process's tracer provider and instrumentations; True when tracing is on.

    Idempotent within a process. Call it before the clients are made (PyMongo's command
    listener is registered globally and applies to clients created afterwards).
    """
    if not enabled():
        return False
    if _State.pid == os.getpid():
        return True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _content_capture_off()
    # No sampler argument: the SDK reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name(component)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _State.provider, _State.pid, _State.instrumented = provider, os.getpid(), frozenset()
    for library in libraries:
        _instrument(library)
    log.info("tracing on", extra={"service_name": service_name(component), "instrumented": sorted(libraries)})
    return True


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Export what is buffered (a prefork child may end without running ``atexit``)."""
    if _State.provider is not None and _State.pid == os.getpid():
        _State.provider.force_flush(timeout_millis)


def _content_capture_off() -> None:
    for name in (CONTENT_CAPTURE_VARIABLE, COMPLETION_HOOK_VARIABLE):
        value = os.environ.get(name, "")
        if value and value.strip().lower() not in ("false", "no_content"):
            log.warning("%s=%s ignored: ragtasks never puts message content in spans", name, value)
    os.environ[CONTENT_CAPTURE_VARIABLE] = "false"
    os.environ.pop(COMPLETION_HOOK_VARIABLE, None)


def _instrument(library: str) -> None:
    if library in _State.instrumented:
        return
    if library == "celery":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    elif library == "pymongo":
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        PymongoInstrumentor().instrument(capture_statement=False)
    elif library == "redis":
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    elif library == "httpx":
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(request_hook=_scrub_url, async_request_hook=_scrub_url_async)
    elif library == "openai":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    else:
        raise ValueError(f"unknown library to instrument: {library!r}")
    _State.instrumented = _State.instrumented | {library}


def instrument_fastapi(app: Any) -> None:
    """The gateway's server spans (FastAPI's own telemetry steps aside for the upstream middleware).

    Probes and the metrics endpoint make no spans: they would be most of a trace store. Call it
    after ``setup_tracing``: it does nothing when this process has no provider.
    """
    if _State.pid != os.getpid():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The ASGI receive/send sub-spans say nothing a reader of a request's trace needs.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz,/readyz,/metrics", exclude_spans=["receive", "send"]
    )


# --- no secrets in URLs -------------------------------------------------------------------------


def scrub_url(url: str) -> str:
    """The URL without credentials and with every query value masked (``key=REDACTED``)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = "&".join(f"{pair.split('=', 1)[0]}=REDACTED" for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _scrub_url(span: Span, request: Any) -> None:
    if not span.is_recording():
        return
    url = scrub_url(str(getattr(request, "url", "") or ""))
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, url)


async def _scrub_url_async(span: Span, request: Any) -> None:
    _scrub_url(span, request)


# --- spans of our own and context across the broker ---------------------------------------------


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue | None] | None = None) -> Iterator[Span]:
    """A span of ragtasks' own (a no-op one when tracing is off); ``None`` attributes are left out.

    Attributes are ids, counts and names: never message text, a prompt or a secret.
    """
    tracer = trace.get_tracer(TRACER_NAME)
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the active span, to store beside work published later."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER)


def valid_traceparent(value: str) -> bool:
    return bool(_TRACEPARENT_RE.match(value))


@contextmanager
def remote_parent(traceparent: str | None) -> Iterator[None]:
    """Make ``traceparent`` the parent of the spans started inside (a no-op when None or invalid)."""
    if not traceparent or not valid_traceparent(traceparent):
        yield
        return
    token = otel_context.attach(_PROPAGATOR.extract({TRACEPARENT_HEADER: traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)
