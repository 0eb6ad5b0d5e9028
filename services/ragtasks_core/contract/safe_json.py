"""One rule for every JSON value that enters ragtasks (HTTP bodies, task payloads). Pure.

Python's ``json`` accepts ``NaN``/``Infinity`` and ``1e400`` (which becomes ``inf``), lone UTF-16
surrogates (``"\\ud800"``, which cannot be encoded as UTF-8 for Mongo or the broker) and NUL bytes
(which BSON forbids in keys), and integers of any size (BSON stops at int64). Each of those used
to surface as a 500 deep inside a handler or a worker. This module refuses them up front, with
the path of the offending value, so the caller answers 422 (or dead-letters the message):

- numbers: finite floats only; integers within int64;
- strings and object keys: no lone surrogate, no NUL;
- nesting: at most ``MAX_DEPTH`` arrays/objects deep.

``check`` walks an already-parsed value; ``loads`` parses bytes and checks them in one go.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# A lone surrogate is any surrogate code point in a Python str: a valid pair from JSON is
# already decoded to one astral character.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


class UnsafeJson(ValueError):
    """A value the rule refuses; ``path`` says where (``messages[3].content``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or "(root)"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnsafeJsonDecodeError(json.JSONDecodeError):
    """What :func:`loads` raises: a ``JSONDecodeError`` so web frameworks answer 422, not 500."""


def _join(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def string_problem(text: str) -> str | None:
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    return "contains a NUL byte" if found.group() == "\x00" else "contains a lone UTF-16 surrogate"


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, str):
        return string_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "integer outside the 64-bit range"
    if isinstance(value, float) and not math.isfinite(value):
        return "number must be finite (no NaN or Infinity)"
    return None


def check(value: Any, *, max_depth: int = MAX_DEPTH, path: str = "") -> None:
    """Raise :class:`UnsafeJson` if ``value`` (parsed JSON) breaks the rule; else return None.

    Iterative (an explicit stack), so a deeply nested input cannot exhaust the C stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                raise UnsafeJson(where, f"nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and (problem := string_problem(key)):
                        raise UnsafeJson(where, f"key {key!r} {problem}")
                    stack.append((child, _join(where, str(key)), depth + 1))
            else:
                stack.extend((child, _join(where, i), depth + 1) for i, child in enumerate(item))
        elif problem := _scalar_problem(item):
            raise UnsafeJson(where, problem)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows (numbers must be finite)")


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON and apply the rule; every refusal is an :class:`UnsafeJsonDecodeError`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError as exc:
        raise UnsafeJsonDecodeError(f"the body is not UTF-8: {exc.reason}", "", exc.start) from exc
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # NaN/Infinity literals
        raise UnsafeJsonDecodeError(str(exc), text, 0) from exc
    except RecursionError as exc:
        raise UnsafeJsonDecodeError(f"nested deeper than {max_depth} levels", text, 0) from exc
    try:
        check(value, max_depth=max_depth)
    except UnsafeJson as exc:
        raise UnsafeJsonDecodeError(str(exc), text, 0) from exc
    return value


class SafeModel(BaseModel):
    """Base of models whose input comes from outside: the rule runs on the raw input first.

    ``allow_inf_nan=False`` also covers floats given as Python objects, not parsed JSON."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _safe_json(cls, data: Any) -> Any:
        if isinstance(data, dict | list):
            check(data)
        return data
