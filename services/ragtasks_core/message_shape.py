"""The shape of a Celery protocol-v2 task message, checked before Celery reads it.

Celery's consumer unpacks the headers and the body without checking them (``args, kwargs, embed
= body``, ``hard, soft = timelimit``): a wrong shape raises inside the worker's event loop and
ends the process. These checks say what is wrong instead, as text for the ``x-ragtasks-reason``
header. They are type checks on values already in memory, a dozen dict look-ups per message;
an ``eta``/``expires`` is parsed only when present (Celery parses it again, it is rare).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery.utils.time import maybe_iso8601

from .contract import ID_PATTERN

_USABLE_ID = re.compile(ID_PATTERN)
# What a task id may be (``contract.ID_PATTERN``), said in words.
ID_WORDS = "a task id (letters, digits and ._:-, at most 128)"


def usable_task_id(value: Any) -> bool:
    """Whether ``value`` is a task id the contract allows (and so can key a stored result)."""
    return isinstance(value, str) and _USABLE_ID.match(value) is not None


def kind(value: Any) -> str:
    """The JSON name of a value's type (what a publisher in any language would call it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shown(value: Any, limit: int = 60) -> str:
    """``kind`` and a clipped repr: ``string 'x'``, ``array [1]``, ``null``."""
    if value is None:
        return "null"
    text = repr(value)
    return f"{kind(value)} {text[:limit]}{'...' if len(text) > limit else ''}"


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return _integer(value) and value >= 0


def _seconds(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _time_limits(value: Any) -> bool:
    return value is None or (isinstance(value, list | tuple) and len(value) == 2 and all(map(_seconds, value)))


def _time(value: Any) -> bool:
    """An ISO-8601 time (or an AMQP timestamp) that Celery can parse and turn into a timestamp."""
    if value is None:
        return True
    if not isinstance(value, str | datetime):
        return False
    try:
        when = maybe_iso8601(value)
        if when is None:
            return False
        (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except (ValueError, TypeError, OverflowError, OSError):
        return False
    return True


def _optional(*types: type) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return value is None or (isinstance(value, types) and (bool in types or not isinstance(value, bool)))

    return check


_STRING_OR_NULL = (_optional(str), "a string or null")
# (header, check, what it must be): every protocol-v2 header Celery reads, when present.
HEADER_RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("retries", _count, "an integer >= 0"),
    ("timelimit", _time_limits, "[hard, soft]: each a number of seconds >= 0 or null"),
    ("eta", _time, "an ISO-8601 time or null"),
    ("expires", _time, "an ISO-8601 time or null"),
    *((name, *_STRING_OR_NULL) for name in ("lang", "shadow", "root_id", "parent_id", "group", "origin")),
    *((name, *_STRING_OR_NULL) for name in ("argsrepr", "kwargsrepr")),
    ("group_index", _optional(int), "an integer or null"),
    ("replaced_task_nesting", _optional(int), "an integer or null"),
    ("ignore_result", _optional(bool), "true, false or null"),
    ("stamped_headers", _optional(list, tuple), "an array or null"),
    ("stamps", _optional(dict), "an object or null"),
)
# The fields of ``embed`` (the body's third item) Celery reads, and the JSON type each must have.
EMBED_RULES = (("callbacks", list, "an array"), ("errbacks", list, "an array"), ("chain", list, "an array"),
               ("chord", dict, "an object"))  # fmt: skip


def header_problem(headers: dict[str, Any]) -> str | None:
    """What is wrong with the headers of a message that has a ``task`` header, or None."""
    task = headers["task"]
    if not isinstance(task, str) or not task:
        return f"header 'task' must be a task name (a non-empty string), got {shown(task)}"
    if "id" not in headers:
        return "no 'id' header: a task message carries its task id"
    if not usable_task_id(headers["id"]):
        return f"header 'id' must be {ID_WORDS}, got {shown(headers['id'])}"
    for name, valid, wanted in HEADER_RULES:
        if name in headers and not valid(headers[name]):
            return f"header {name!r} must be {wanted}, got {shown(headers[name])}"
    return None


def body_problem(body: Any) -> str | None:
    """What is wrong with a decoded body, which must be ``[args, kwargs, embed]``, or None."""
    if not isinstance(body, list | tuple) or len(body) != 3:
        return f"the body must be the JSON array [args, kwargs, embed], got {shown(body)}"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple):
        return f"args (the body's first item) must be an array, got {shown(args)}"
    if not isinstance(kwargs, dict):
        return f"kwargs (the body's second item) must be an object, got {shown(kwargs)}"
    if embed is None:
        return None
    if not isinstance(embed, dict):
        return f"embed (the body's third item) must be an object or null, got {shown(embed)}"
    for name, expected, wanted in EMBED_RULES:
        if embed.get(name) is not None and not isinstance(embed[name], expected):
            return f"embed {name!r} must be {wanted} or null, got {shown(embed[name])}"
    return None


def eta_problem(headers: dict[str, Any], now: datetime, limit: float) -> str | None:
    """Why a valid ``eta`` lies too far ahead (more than ``limit`` seconds after ``now``), or None.

    The worker holds a message with a future eta unacked until then (Celery's timer); one further
    ahead than the broker's consumer timeout has its channel closed, is redelivered, held again,
    and so on until the delivery limit. A countdown is an eta on the wire. Our own retries wait in
    the broker (native delayed delivery) and arrive at their eta, so they never meet this limit.
    Call after :func:`header_problem` (the eta parses); a naive eta is read as UTC, as Celery's
    worker reads it (``maybe_make_aware(..., naive_as_utc=True)``), whatever the app's time zone.
    """
    value = headers.get("eta")
    if value is None:
        return None
    when = maybe_iso8601(value)
    if when is None:
        return None
    ahead = ((when if when.tzinfo else when.replace(tzinfo=UTC)) - now).total_seconds()
    if ahead <= limit:
        return None
    return (
        f"eta {str(value)[:64]!r} is {ahead:.0f} s ahead, more than RAGTASKS_MAX_ETA_SECONDS={limit:g}: the worker "
        "would hold it unacked past the broker's consumer timeout until the delivery limit; publish it closer "
        "to its time (a far-future job belongs in a scheduler)"
    )
