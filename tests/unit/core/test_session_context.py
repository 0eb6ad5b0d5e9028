"""The context after the watermark: gap-free, and the newest messages within a token budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ragtasks_core.session_context import HOLE_GRACE, gap_free_count, newest_within

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_the_run_stops_before_a_hole_in_flight() -> None:
    # 13, 16 and 18 are reserved by concurrent appends and not written yet.
    items = [(s, NOW) for s in (11, 12, 14, 15, 17, 19)]
    assert gap_free_count(items, 10, NOW) == 2
    assert gap_free_count(items, 13, NOW) == 0


def test_an_old_hole_is_stepped_over() -> None:
    old = NOW - HOLE_GRACE - timedelta(seconds=1)
    assert gap_free_count([(11, old), (13, old), (14, NOW)], 10, NOW) == 3
    assert gap_free_count([(11, old), (13, NOW)], 10, NOW) == 1


def test_newest_within_a_budget() -> None:
    items = [("user", 100), ("assistant", 50), ("user", 30), ("assistant", 20)]
    assert newest_within(items, 60) == 2
    assert newest_within(items, 49) == 1
    assert newest_within(items, 10) == 0
    assert newest_within(items, 10**6) == 4


def test_newest_within_never_starts_with_a_tool_result_without_its_call() -> None:
    items = [("user", 10), ("assistant", 50), ("tool", 30), ("tool", 20), ("user", 5)]
    assert newest_within(items, 60) == 1  # 30 + 20 + 5 fit, but the call (50) does not
    assert newest_within(items, 105) == 4
