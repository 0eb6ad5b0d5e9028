"""What the review list's sampler counts when its queries are not written: too many writes in
flight (``busy``), a write that raised (``failed``), and nothing when sampling is off or nothing
is left to review. Recorded and dropped queries need the real Mongo server:
tests/integration/gateway/test_event_queries_metrics.py."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from ragtasks_core import metrics
from ragtasks_gateway.query_sampler import QuerySampler

METRIC = "ragtasks_event_queries_sampled_total"
ZH = "如何重置 VPN 密码？"
ZH_FULL_WIDTH = "如何重置　ＶＰＮ　密码?"  # one query with ZH
EN = "How do I reset my VPN password?"


class _Unreachable:
    """A database whose every collection access fails as a lost connection to Mongo does."""

    def __getitem__(self, name: str) -> Any:
        raise AutoReconnect(f"connection refused ({name})")


def _outcomes() -> dict[str, float]:
    metrics.init_event_query_series()  # as the gateway does at start-up
    found = {o: REGISTRY.get_sample_value(METRIC, {"outcome": o}) for o in metrics.EVENT_QUERY_OUTCOMES}
    assert None not in found.values(), found
    return {o: float(v or 0) for o, v in found.items()}


def _since(before: dict[str, float]) -> dict[str, float]:
    return {o: v - before[o] for o, v in _outcomes().items()}


def _submit_all(sampler: QuerySampler, *requests: list[tuple[str, str, bool]]) -> list[bool]:
    """Submit requests back to back (none of their writes starts in between), then drain."""

    async def scenario() -> list[bool]:
        queued = [sampler.submit(events) for events in requests]
        await sampler.drain(5)
        return queued

    return asyncio.run(scenario())


def test_queries_beyond_the_writes_in_flight_are_counted_busy_as_reported() -> None:
    before = _outcomes()
    sampler = QuerySampler(_Unreachable(), max_per_kb=10, max_in_flight=1)  # type: ignore[arg-type]
    first = [("kb", EN, False)]
    # Not normalised (that is the work a busy gateway skips): three queries, though two are one.
    second = [("kb", ZH, False), ("kb", ZH_FULL_WIDTH, True), ("kb", EN, False)]
    assert _submit_all(sampler, first, second) == [True, False]
    assert _since(before) == {"recorded": 0.0, "dropped": 0.0, "busy": 3.0, "failed": 1.0}


def test_a_write_that_raises_counts_its_distinct_queries_failed() -> None:
    before = _outcomes()
    sampler = QuerySampler(_Unreachable(), max_per_kb=10)  # type: ignore[arg-type]
    events = [("kb", ZH, False), ("kb", ZH_FULL_WIDTH, True), ("kb", EN, False), ("other", EN, True)]
    assert _submit_all(sampler, events) == [True]
    assert _since(before) == {"recorded": 0.0, "dropped": 0.0, "busy": 0.0, "failed": 3.0}


def test_nothing_is_counted_when_sampling_is_off_or_no_query_is_left_to_review() -> None:
    before = _outcomes()
    off = QuerySampler(_Unreachable(), max_per_kb=0)  # type: ignore[arg-type]
    assert _submit_all(off, [("kb", ZH, False)]) == [False]
    # Blank queries: nothing to write, so the unreachable database is never asked.
    blank = QuerySampler(_Unreachable(), max_per_kb=10)  # type: ignore[arg-type]
    assert _submit_all(blank, [("kb", " \u3000 ", False), ("kb", "？", True)]) == [True]
    assert _since(before) == dict.fromkeys(metrics.EVENT_QUERY_OUTCOMES, 0.0)
