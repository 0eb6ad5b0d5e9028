"""Counting retrieval events' queries into the review list, off the request path.

``POST /v1/retrieval-events`` is a hot path (up to 1,000 events a request): its answer waits for
the Redis window, never for the review list. Each request's queries are handed to a task of their
own (one read, one count, one unordered bulk write: ``stores.event_queries``) and the request
answers at once. At most :data:`MAX_IN_FLIGHT` such tasks run per gateway process: beyond that a
request's queries are not sampled (logged), so a slow Mongo server cannot pile up work; a failure
is logged and never reaches the events request. What became of the queries is counted
(``ragtasks_event_queries_sampled_total``: recorded, dropped, busy, failed). The app drains the
tasks when it stops (cancelling what is still running after the drain).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core import metrics
from ragtasks_core.documents import queries

from .stores import event_queries

log = logging.getLogger(__name__)
# Requests whose queries are being written at once, per gateway process. A module constant (no
# setting): against a healthy Mongo a request's write takes tens of milliseconds, so a few are
# enough; more would only queue on a slow server.
MAX_IN_FLIGHT = 8


class QuerySampler:
    """The app's sampler (``app.state.query_sampler``): one per process, drained at shutdown."""

    def __init__(self, db: AsyncDatabase, max_per_kb: int, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.db = db
        self.max_per_kb = max_per_kb  # RAGTASKS_EVENT_QUERIES_MAX_PER_KB; 0: off
        self.max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, events: list[tuple[str, str, bool]]) -> bool:
        """Hand a request's ``(kb_id, query, empty)`` events over; False: not sampled (off, or busy)."""
        if self.max_per_kb <= 0 or not events:
            return False
        if len(self._tasks) >= self.max_in_flight:
            log.warning("review list busy (%d writes in flight): %d queries not sampled", len(self._tasks), len(events))
            _count("busy", len(events))
            return False
        task = asyncio.create_task(self._record(events))
        self._tasks.add(task)  # a reference, so the task is not garbage-collected mid-way
        task.add_done_callback(self._tasks.discard)
        return True

    async def _record(self, events: list[tuple[str, str, bool]]) -> None:
        sampled: list[queries.Sampled] | None = None
        try:
            # Normalising up to 1,000 queries of up to 4,000 characters: off the event loop.
            sampled = await asyncio.to_thread(queries.sample, events)
            recorded = await event_queries.record(self.db, sampled, self.max_per_kb, datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - best effort: the events were accepted already
            log.warning("could not sample %d retrieval queries into the review list: %r", len(events), exc)
            # Distinct queries, as recorded ones are counted; as reported if normalising failed.
            _count("failed", len(events) if sampled is None else len(sampled))
            return
        _count("recorded", recorded.written)
        _count("dropped", recorded.dropped)
        if recorded.dropped:
            log.info("review list full: %d new distinct queries dropped", recorded.dropped)

    async def drain(self, within: float) -> None:
        """Let the writes in flight finish (at most ``within`` seconds), at shutdown; cancel the
        rest and wait for them, so that no task is destroyed while still pending."""
        if not self._tasks:
            return
        tasks = set(self._tasks)
        await asyncio.wait(tasks, timeout=within)
        for task in tasks:
            task.cancel()  # a no-op on a finished one
        await asyncio.gather(*tasks, return_exceptions=True)


def _count(outcome: str, n: int) -> None:
    metrics.EVENT_QUERIES_SAMPLED.labels(outcome).inc(n)
