"""The transforms settings share, each written once and attached to a field by its type.

An environment variable is a string: these types turn ``"a, b"`` into a list and a blank value into
"unset", and refuse a bad rate or time zone at start-up rather than when it is first used.
"""

from __future__ import annotations

import re
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

T = TypeVar("T")

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PERIOD_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> tuple[float, float]:
    """Parse ``"10/m"`` into ``(10.0, 60.0)``: (requests, per seconds)."""
    match = _RATE_RE.match(text)
    if not match:
        raise ValueError(f"rate must look like '10/m', '2/s' or '100/h', got {text!r}")
    count = float(match.group(1))
    if count <= 0:
        raise ValueError("rate must be positive")
    return count, _PERIOD_SECONDS[match.group(2)]


def split_commas(value: object) -> object:
    """``" a, b,,c"`` -> ``["a", "b", "c"]``; a list given in code passes as it is."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def split_commas_lower(value: object) -> object:
    """:func:`split_commas`, lower-cased (host names compare without case)."""
    return split_commas(value.lower()) if isinstance(value, str) else value


def blank_is_none(value: object) -> object:
    """An empty variable means "unset" (a chart or compose file cannot leave one out)."""
    return None if value == "" else value


def check_rate(value: str) -> str:
    parse_rate(value)
    return value


def check_timezone(value: str) -> str:
    # Fail at start-up, not when beat schedules or an alert renders a time.
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from exc
    return value


# NoDecode: pydantic-settings would otherwise parse a list variable as JSON before we split it.
CommaList = Annotated[list[T], NoDecode, BeforeValidator(split_commas)]
LowerCommaList = Annotated[list[str], NoDecode, BeforeValidator(split_commas_lower)]
BlankIsNone = Annotated[T, BeforeValidator(blank_is_none)]
Rate = Annotated[str, AfterValidator(check_rate)]  # "10/m", "2/s", "100/h"
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
