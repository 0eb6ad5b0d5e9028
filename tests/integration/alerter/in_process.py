"""What the in-process alert pipeline tests share (``test_pipeline``, ``test_routing_pipeline``).

They run the alerter's service functions against real Mongo and the fake robots without Celery,
with time passed in, so group waits, repeats, retry delays and quiet hours need no sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from ragtasks_alerter import channels, service
from ragtasks_alerter.routing import Router
from ragtasks_core.settings import Settings


class Clock:
    """A clock the test moves: ``clock()`` is now, ``advance(seconds)`` moves it on."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def deliver(
    db: Any, ids: list[str], clock: Clock, settings: Settings, http: httpx.Client, router: Router | None = None
) -> list[service.Delivered]:
    """One delivery attempt of each notification, through the real channels (no rate limiter)."""
    return [
        service.deliver(
            db,
            nid,
            clock,
            settings,
            acquire=lambda c, u: None,
            send=lambda c, u, b: channels.send(http, c, u, b),
            worker="test",
            router=router,
        )
        for nid in ids
    ]
