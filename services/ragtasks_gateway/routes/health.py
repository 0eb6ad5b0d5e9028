"""Liveness, readiness and metrics (no auth: probes and Prometheus call these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ..safe_body import SafeJsonRoute

router = APIRouter(tags=["health"], route_class=SafeJsonRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Any:
    """Broker, Redis and Mongo, over the gateway's long-lived connections, cached briefly
    (``RAGTASKS_READINESS_CACHE_SECONDS``): calling it in a loop costs the backends nothing."""
    results = await request.app.state.readiness.results()
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    # Process metrics, then queue depth from RabbitMQ (a blocking HTTP call, off the loop).
    body = generate_latest(request.app.state.metrics_registry)
    body += await run_in_threadpool(generate_latest, request.app.state.queue_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
