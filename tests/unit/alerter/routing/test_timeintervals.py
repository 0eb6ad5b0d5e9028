"""Quiet hours: Alertmanager's time_intervals, read in RAGTASKS_TIMEZONE, and when a muted span ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ragtasks_alerter.routing.timeintervals import NamedTimeInterval, TimeInterval, muted_until, zone

SHANGHAI = zone("Asia/Shanghai")


def at(text: str, tz: Any = SHANGHAI) -> datetime:
    """A wall-clock time in ``tz`` (2026-12-07 is a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def named(name: str, *parts: dict[str, Any]) -> NamedTimeInterval:
    return NamedTimeInterval.model_validate({"name": name, "time_intervals": list(parts)})


NIGHTS = named(
    "nights",
    {"times": [{"start_time": "22:00", "end_time": "24:00"}]},
    {"times": [{"start_time": "00:00", "end_time": "08:00"}]},
)
WEEKENDS = named("weekends", {"weekdays": ["saturday:sunday"]})


def test_times_are_minutes_with_the_end_excluded_in_the_configured_zone() -> None:
    part = TimeInterval.model_validate({"times": [{"start_time": "09:00", "end_time": "17:30"}]})
    assert part.contains(at("2026-12-07T09:00"), SHANGHAI)
    assert part.contains(at("2026-12-07T17:29:59"), SHANGHAI)
    assert not part.contains(at("2026-12-07T17:30"), SHANGHAI)
    assert not part.contains(at("2026-12-07T08:59:59"), SHANGHAI)
    # 01:00 UTC is 09:00 in Shanghai: an aware UTC time is read in the zone.
    assert part.contains(datetime(2026, 12, 7, 1, 0, tzinfo=UTC), SHANGHAI)
    assert not part.contains(datetime(2026, 12, 7, 1, 0, tzinfo=UTC), zone("UTC"))


def test_weekdays_days_of_month_months_and_years() -> None:
    weekdays = TimeInterval.model_validate({"weekdays": ["monday:friday"]})
    assert weekdays.contains(at("2026-12-07T12:00"), SHANGHAI)  # Monday
    assert not weekdays.contains(at("2026-12-12T12:00"), SHANGHAI)  # Saturday
    last_days = TimeInterval.model_validate({"days_of_month": ["-2:-1"], "months": ["december"], "years": ["2026"]})
    assert last_days.contains(at("2026-12-30T00:00"), SHANGHAI)
    assert not last_days.contains(at("2026-12-29T23:59"), SHANGHAI)
    assert not last_days.contains(at("2027-12-31T00:00"), SHANGHAI)
    assert TimeInterval.model_validate({"months": ["2:3"]}).contains(at("2026-02-28T00:00"), SHANGHAI)


def test_location_overrides_the_default_zone() -> None:
    part = TimeInterval.model_validate({"times": [{"start_time": "09:00", "end_time": "10:00"}], "location": "UTC"})
    assert part.contains(datetime(2026, 12, 7, 9, 30, tzinfo=UTC), SHANGHAI)


def test_a_muted_span_ends_where_adjacent_ranges_and_days_stop() -> None:
    # Monday 23:00 -> through midnight into 00:00-08:00 -> Tuesday 08:00.
    assert muted_until([NIGHTS], at("2026-12-07T23:00"), SHANGHAI) == at("2026-12-08T08:00")
    assert muted_until([NIGHTS], at("2026-12-08T07:59"), SHANGHAI) == at("2026-12-08T08:00")
    assert muted_until([NIGHTS], at("2026-12-08T08:00"), SHANGHAI) is None
    # Saturday noon: weekend, then Monday's 00:00-08:00 night part.
    assert muted_until([NIGHTS, WEEKENDS], at("2026-12-12T12:00"), SHANGHAI) == at("2026-12-14T08:00")
    assert muted_until([WEEKENDS], at("2026-12-12T12:00"), SHANGHAI) == at("2026-12-14T00:00")
    assert muted_until([], at("2026-12-12T12:00"), SHANGHAI) is None


def test_daylight_saving_time_is_wall_clock() -> None:
    berlin = zone("Europe/Berlin")
    night = named("n", {"times": [{"start_time": "01:00", "end_time": "04:00"}]})
    # 2026-03-29: clocks go 02:00 -> 03:00; the span 01:00-04:00 lasts two real hours.
    start = at("2026-03-29T01:30", berlin)
    end = muted_until([night], start, berlin)
    assert end == at("2026-03-29T04:00", berlin)
    # Aware datetimes in one zone subtract as wall clocks (2.5 h); in real time it is 1.5 h.
    assert end is not None
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=1, minutes=30)


def test_an_interval_that_always_holds_gives_a_moment_to_look_again() -> None:
    always = named("always", {"weekdays": ["monday:sunday"]})
    until = muted_until([always], at("2026-12-07T12:00"), SHANGHAI)
    assert until is not None and until > at("2028-01-01T00:00")


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"times": [{"start_time": "10:00", "end_time": "09:00"}]}, "must be before"),
        ({"times": [{"start_time": "9:00", "end_time": "10:00"}]}, "not HH:MM"),
        ({"times": [{"start_time": "00:00", "end_time": "24:01"}]}, "outside"),
        ({"weekdays": ["friday:monday"]}, "start is after end"),
        ({"weekdays": ["funday"]}, "funday"),
        ({"days_of_month": ["32"]}, "outside"),
        ({"months": ["13"]}, "outside"),
        ({"location": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": ["1"]}, "Extra inputs"),
    ],
)
def test_bad_intervals_are_refused_with_the_reason(part: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TimeInterval.model_validate(part)
