"""Keeping a caller-supplied metric label bounded: the first N values seen, then ``other``.

``kb`` on ``ragtasks_retrieval_events_total`` comes from whoever reports retrieval events, so a
client sending a fresh ``kb_id`` per request would otherwise grow the gateway's series without
end. Tracked in-process (per gateway replica): every replica keeps at most ``limit`` values of
its own, so a scrape across N replicas sees at most N x limit, usually the same ``limit`` KBs.
Pure (no prometheus_client).
"""

from __future__ import annotations

import threading

OTHER = "other"


class BoundedLabel:
    """``label(value)`` is ``value`` for the first ``limit`` distinct values, else ``OTHER``."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
            return OTHER

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
