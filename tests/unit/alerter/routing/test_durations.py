"""Durations are Prometheus's (prometheus/common model.ParseDuration), as Alertmanager's config takes them."""

from __future__ import annotations

import pytest

from ragtasks_alerter.routing.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("0s", 0),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172_800),
        ("1w", 604_800),
        ("1y", 31_536_000),
        ("1500ms", 1.5),
        ("4h", 14_400),
    ],
)
def test_parses(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1m1h", "-5s", "1.5h", "5M", "s"])
def test_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid duration"):
        parse_duration(text)


def test_formats_back() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"
    assert parse_duration(format_duration(93_784)) == 93_784
