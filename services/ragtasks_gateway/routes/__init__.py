"""HTTP routes, one module per resource; ``ROUTERS`` is what the app mounts, in this order.

Every module is imported explicitly: a missing or broken route module fails at import time,
never as an endpoint that silently is not there.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import alerts, evaluations, health, kbs, retrieval_events, sessions, silences, tasks

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    sessions.router,
    tasks.router,
    kbs.router,
    evaluations.router,
    alerts.alertmanager_router,
    alerts.router,
    silences.router,
    retrieval_events.router,
)
