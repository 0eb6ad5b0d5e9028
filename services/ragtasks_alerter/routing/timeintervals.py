"""Alertmanager's ``time_intervals``: when a route's notifications are muted (quiet hours).

An interval holds when every field it sets holds: ``times`` (``HH:MM`` to ``HH:MM``, end exclusive,
to the minute, ``24:00`` is the end of the day), ``weekdays`` (``monday:friday``, ``saturday``),
``days_of_month`` (``1:5``, ``-1`` is the last day), ``months`` (``january:march`` or ``1:3``) and
``years``. Wall-clock times are read in ``location``, by default ``RAGTASKS_TIMEZONE``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = tuple(name.lower() for name in calendar.month_name[1:])
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")
# A span of muted time longer than this is re-checked at its horizon instead of followed further.
_HORIZON_STEPS = 800


def _range(text: object, lo: int, hi: int, names: Sequence[str] = (), *, negative: bool = False) -> tuple[int, int]:
    """``'a:b'`` or ``'a'`` -> an inclusive (start, end) pair, by number or by name."""
    parts = str(text).strip().lower().split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"invalid range {text!r} (expected 'start:end' or a single value)")
    bounds = [_bound(p, lo, hi, names, negative) for p in parts]
    start, end = bounds[0], bounds[-1]
    if (start < 0) == (end < 0) and start > end:
        raise ValueError(f"range {text!r}: start is after end")
    return start, end


def _bound(part: str, lo: int, hi: int, names: Sequence[str], negative: bool) -> int:
    if part in names:
        return names.index(part) + lo
    try:
        value = int(part)
    except ValueError:
        choices = f" or one of {', '.join(names)}" if names else ""
        raise ValueError(f"{part!r} is not a number from {lo} to {hi}{choices}") from None
    if lo <= value <= hi or (negative and -hi <= value <= -1):
        return value
    raise ValueError(f"{value} is outside {lo}..{hi}{' (or -1..-' + str(hi) + ')' if negative else ''}")


def _ranges(lo: int, hi: int, names: Sequence[str] = (), negative: bool = False) -> BeforeValidator:
    return BeforeValidator(lambda items: [_range(i, lo, hi, names, negative=negative) for i in items or []])


def _minute(text: str) -> int:
    found = _CLOCK.match(text.strip())
    if found is None:
        raise ValueError(f"time {text!r} is not HH:MM")
    hour, minute = int(found.group(1)), int(found.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ValueError(f"time {text!r} is outside 00:00..24:00")
    return hour * 60 + minute


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    start_time: str
    end_time: str

    @property
    def start_minute(self) -> int:
        return _minute(self.start_time)

    @property
    def end_minute(self) -> int:
        return _minute(self.end_time)

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start_minute >= self.end_minute:
            raise ValueError(f"start_time {self.start_time} must be before end_time {self.end_time}")
        return self


class TimeInterval(BaseModel):
    """One entry of a named interval's ``time_intervals`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: Annotated[list[tuple[int, int]], _ranges(0, 6, WEEKDAYS)] = Field(default_factory=list)
    days_of_month: Annotated[list[tuple[int, int]], _ranges(1, 31, negative=True)] = Field(default_factory=list)
    months: Annotated[list[tuple[int, int]], _ranges(1, 12, MONTHS)] = Field(default_factory=list)
    years: Annotated[list[tuple[int, int]], _ranges(1, 9999)] = Field(default_factory=list)
    location: str | None = None

    @field_validator("location")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    def contains(self, moment: datetime, default_tz: tzinfo) -> bool:
        local = moment.astimezone(self._tz(default_tz))
        return self._day_matches(local.date()) and self._range_at(local) is not None

    def block_end(self, moment: datetime, default_tz: tzinfo) -> datetime:
        """Given ``contains(moment)``: when the time range (or the day) holding it ends."""
        tz = self._tz(default_tz)
        local = moment.astimezone(tz)
        found = self._range_at(local)
        end_minute = found.end_minute if found is not None else 24 * 60
        day = local.date() + timedelta(days=end_minute // (24 * 60))
        minute = end_minute % (24 * 60)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)

    def _tz(self, default_tz: tzinfo) -> tzinfo:
        return zone(self.location) if self.location else default_tz

    def _range_at(self, local: datetime) -> TimeRange | None:
        if not self.times:
            return TimeRange(start_time="00:00", end_time="24:00")
        minute = local.hour * 60 + local.minute
        return next((r for r in self.times if r.start_minute <= minute < r.end_minute), None)

    def _day_matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]

        def dom(bound: int) -> int:  # -1 is the month's last day
            return bound if bound > 0 else last + 1 + bound

        return (
            _within(day.weekday(), self.weekdays)
            and (not self.days_of_month or any(dom(a) <= day.day <= dom(b) for a, b in self.days_of_month))
            and _within(day.month, self.months)
            and _within(day.year, self.years)
        )


class NamedTimeInterval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    time_intervals: list[TimeInterval] = Field(min_length=1)

    def contains(self, moment: datetime, default_tz: tzinfo) -> bool:
        return any(i.contains(moment, default_tz) for i in self.time_intervals)


def _within(value: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return not ranges or any(a <= value <= b for a, b in ranges)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None


def muted_until(intervals: Sequence[NamedTimeInterval], moment: datetime, default_tz: tzinfo) -> datetime | None:
    """None if no interval holds at ``moment``; else when the muted span ends (or, for a span
    longer than about two years, a moment to look again)."""
    parts = [p for named in intervals for p in named.time_intervals]
    holding = [p for p in parts if p.contains(moment, default_tz)]
    if not holding:
        return None
    at = moment
    for _ in range(_HORIZON_STEPS):
        holding = [p for p in parts if p.contains(at, default_tz)]
        if not holding:
            return at
        at = max(p.block_end(at, default_tz) for p in holding)
    return at
