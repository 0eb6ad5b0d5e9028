"""Structured JSON logs: one object per line, with the current task's id/name/queue if any.

When a span is active (tracing on, ``ragtasks_core.tracing``) every line, JSON or text, carries its
``trace_id`` and ``span_id`` (the W3C hex forms a trace store searches for), so a log line leads to
its trace.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from celery import current_task
from opentelemetry import trace

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# Never log these, whatever a caller passes in ``extra``.
_SECRET_KEYS = {"api_key", "llm_api_key", "webhook_url", "wecom_webhook_url", "authorization", "password"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if "task_id" not in record.__dict__:  # the per-task line passes its fields itself (cheaper)
            data.update(_task_fields())
        data.update(trace_fields())
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = "[redacted]" if key.lower() in _SECRET_KEYS else value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def _task_fields() -> dict[str, Any]:
    task = current_task._get_current_object()  # one proxy resolution, not one per attribute
    request = getattr(task, "request", None) if task else None
    if request is None or request.id is None:
        return {}
    delivery = request.delivery_info or {}
    return {"task_id": request.id, "task": task.name, "queue": delivery.get("routing_key")}


def trace_fields() -> dict[str, Any]:
    """``trace_id``/``span_id`` of the active span (empty when none: tracing off, no span)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "trace_sampled": context.trace_flags.sampled,
    }


class TextFormatter(logging.Formatter):
    """``time level logger message``, then ``trace_id=... span_id=...`` when a span is active."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = trace_fields()
        if fields:
            text += f" trace_id={fields['trace_id']} span_id={fields['span_id']}"
        return text


def setup_logging(level: str = "INFO", *, json_output: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_output else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Celery's own per-task INFO lines ("Task ... received", "Task ... succeeded in ...") repeat the
    # one line ragtasks writes per task (worker_signals: id, name, queue, outcome, duration) and
    # cost ~0.7 ms of worker CPU per task (issue 17). Failures and retries are ERROR/WARNING there and
    # still get through; DEBUG brings the lines back.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    # httpx logs full URLs at INFO (a webhook key is part of its URL): keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
