"""Liveness, readiness and metrics (no auth: probes and Prometheus call these)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from ragtasks_core.celery_app import broker_reachable

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_mongo(request: Request) -> None:
    await request.app.state.db.command("ping")


async def _check_redis(request: Request) -> None:
    # The result backend (task state) and the Redis of the limiters and windows may be two servers.
    settings = request.app.state.settings
    for url in dict.fromkeys((settings.effective_redis_url, settings.result_backend)):
        client = aioredis.from_url(url)
        try:
            await client.ping()
        finally:
            await client.aclose()


async def _check_broker(request: Request) -> None:
    if not await run_in_threadpool(broker_reachable, request.app.state.settings.broker_url, CHECK_TIMEOUT_SECONDS):
        raise ConnectionError("broker unreachable")


@router.get("/readyz")
async def readyz(request: Request) -> Any:
    checks = {"mongo": _check_mongo, "redis": _check_redis, "broker": _check_broker}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(request), CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
            results[name] = f"error: {type(exc).__name__}"
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
