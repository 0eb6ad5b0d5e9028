"""``ragtasks publish TASK --json '{...}'``: one task by name, with pika (the wire format every producer uses).

``--traceparent 00-<trace id>-<span id>-<flags>`` sends a W3C ``traceparent`` header with it, so the
task's span joins the caller's trace (docs/contract.md, docs/tracing.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import ValidationError

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.registry import model_for
from ragtasks_core.tracing import valid_traceparent

from .common import load_settings


def run(args: argparse.Namespace) -> None:
    from ragtasks_publisher import PublishFailed, TaskPublisher

    kwargs = _kwargs(args)
    traceparent = _traceparent(args)
    settings = load_settings()
    try:
        with TaskPublisher(settings.broker_url) as publisher:
            print(publisher.publish(args.task, kwargs, task_id=args.task_id, traceparent=traceparent))
    except PublishFailed as exc:
        raise SystemExit(f"ragtasks publish: {exc}") from None


def _kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The task's keyword arguments from ``--json``, checked against its payload model."""
    if args.task not in {t.value for t in TaskName}:
        raise SystemExit(f"ragtasks publish: unknown task {args.task!r}; known: {', '.join(t.value for t in TaskName)}")
    try:
        kwargs = json.loads(args.json)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"ragtasks publish: --json is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise SystemExit("ragtasks publish: --json must be a JSON object (the task's keyword arguments)")
    model = model_for(args.task)
    if model is None or args.no_validate:
        return kwargs
    try:
        return model.model_validate(kwargs).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"ragtasks publish: invalid {model.__name__} payload: {problems}") from None


def _traceparent(args: argparse.Namespace) -> str | None:
    value: str | None = args.traceparent
    if value is not None and not valid_traceparent(value):
        raise SystemExit(
            "ragtasks publish: --traceparent must be a W3C traceparent, "
            f"00-<32 lower-case hex trace id>-<16 lower-case hex span id>-<2 hex flags>; got {value!r}"
        )
    return value
