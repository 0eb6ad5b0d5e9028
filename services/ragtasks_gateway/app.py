"""The FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from ragtasks_core import documents, metrics, mongo, tokens
from ragtasks_core.api_keys import ANONYMOUS
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.queue_metrics import QueueCollector
from ragtasks_core.settings import Settings

from .body_guard import BodyGuard
from .deps import CALLER
from .publisher import Publisher
from .readiness import Readiness
from .routes import ROUTERS

log = logging.getLogger(__name__)
INDEX_TIMEOUT_SECONDS = 5.0
SHUTDOWN_TIMEOUT_SECONDS = 3.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = mongo.async_client(settings)
        app.state.db = client[settings.mongodb_db]
        app.state.readiness = Readiness(settings, app.state.db)
        # Loading the tokenizer's ranks takes seconds of GIL-holding CPU: before serving, not
        # in the middle of the first append.
        await asyncio.to_thread(tokens.count_tokens, "warm-up")
        try:
            # Bounded: with Mongo down, start anyway (``/healthz`` answers, ``/readyz`` says 503)
            # instead of blocking start-up for the driver's 30 s server-selection timeout.
            await asyncio.wait_for(documents.ensure_indexes_async(app.state.db), INDEX_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - start anyway; /readyz reports Mongo
            log.warning("could not ensure indexes at start-up: %r", exc)
        try:
            yield
        finally:
            # Bounded: with Mongo already gone, closing the client (it ends its server sessions)
            # would wait out server selection, and the pod would overrun its grace period.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), SHUTDOWN_TIMEOUT_SECONDS)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app.state.readiness.close(), SHUTDOWN_TIMEOUT_SECONDS)
            app.state.celery.close()

    # RAGTASKS_DOCS_ENABLED (off by default in production): /docs, /redoc and /openapi.json.
    docs = settings.docs_on
    app = FastAPI(
        title="ragtasks gateway",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.celery = create_celery(settings)
    app.state.publisher = Publisher(app.state.celery, timeout=settings.publish_timeout_seconds)
    metrics.set_build_info()
    metrics.init_publish_series(t.value for t in TaskName)
    app.state.metrics_registry = metrics.registry_for_scrape()
    app.state.queue_registry = CollectorRegistry()
    app.state.queue_registry.register(QueueCollector(settings))
    for router in ROUTERS:
        app.include_router(router)
    # Auth, size and read timeout before any body is read. Added first, so it sits inside the
    # observing middleware below and its 401/408/413 answers are counted too.
    app.add_middleware(BodyGuard, settings=settings)
    _install_middleware(app)
    return app


def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status_code = 500
        try:
            response = await call_next(request)
            status_code = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            caller = request.scope.get("state", {}).get(CALLER, ANONYMOUS)  # a key's name, never its token
            metrics.HTTP_REQUESTS.labels(request.method, path, str(status_code), caller).inc()
            log.info(
                "%s %s %s caller=%s",
                request.method,
                path,
                status_code,
                caller,
                extra={"method": request.method, "route": path, "status": status_code, "caller": caller},
            )
            metrics.HTTP_LATENCY.labels(request.method, path).observe(time.perf_counter() - started)

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the client; the log has it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
