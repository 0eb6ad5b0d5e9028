"""A local OTLP/HTTP trace receiver: what a collector's ``/v1/traces`` takes, decoded for tests.

The processes under test export with the real OTLP/HTTP protobuf exporter
(``OTEL_EXPORTER_OTLP_ENDPOINT=receiver.origin``); the receiver decodes each
``ExportTraceServiceRequest`` with ``opentelemetry-proto`` and keeps the spans as plain
``ReceivedSpan`` values (ids in W3C hex, attributes as Python values, the resource's
``service.name``). Built on the shared ``HttpDouble`` base, like the OpenAI and WeCom doubles.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support.http_double import HttpDouble, JsonResponse
from tests.support.procs import wait_until


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    scope: str

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id


@dataclass
class OtlpReceiver(HttpDouble):
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0

    def handle_post(self, path: str, raw: bytes) -> JsonResponse:
        if path.rstrip("/") != "/v1/traces":
            return JsonResponse(404, {"error": f"no such signal: {path}"})
        if raw[:2] == b"\x1f\x8b":  # OTEL_EXPORTER_OTLP_COMPRESSION=gzip
            raw = gzip.decompress(raw)
        request = ExportTraceServiceRequest()
        request.ParseFromString(raw)
        received = list(_spans_of(request))
        with self._lock:
            self.requests += 1
            self.spans.extend(received)
        # The body of an ExportTraceServiceResponse with no partial success is empty.
        return JsonResponse(200, {})

    def all_spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.all_spans() if s.trace_id == trace_id]

    def wait_for(self, predicate: Any, timeout: float = 30, message: str = "spans") -> list[ReceivedSpan]:
        """Poll until ``predicate(all_spans)`` holds; returns the spans then."""
        return wait_until(
            self.all_spans,
            timeout,
            0.1,
            message,
            until=predicate,
            detail=lambda: "received: " + ", ".join(f"{s.service}:{s.name}" for s in self.all_spans()),
        )

    def settle(self, quiet_seconds: float = 1.0, timeout: float = 20) -> list[ReceivedSpan]:
        """Wait until no new span arrived for ``quiet_seconds`` (every batch processor flushed)."""
        deadline = time.monotonic() + timeout
        count = -1
        while time.monotonic() < deadline:
            now = len(self.all_spans())
            if now == count:
                break
            count = now
            time.sleep(quiet_seconds)
        return self.all_spans()


def _spans_of(request: ExportTraceServiceRequest) -> Any:
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(
                    service=service,
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    kind=span.kind,
                    attributes={kv.key: _value(kv.value) for kv in span.attributes},
                    scope=scope_spans.scope.name,
                )


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)
