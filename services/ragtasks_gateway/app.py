"""The FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from ragtasks_core import documents, metrics, mongo, tokens
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.queue_metrics import QueueCollector
from ragtasks_core.settings import Settings

from . import openapi_errors
from .body_guard import BodyGuard
from .observe import Observe
from .publisher import Publisher
from .query_sampler import QuerySampler
from .readiness import Readiness
from .routes import ROUTERS
from .stores import sessions

log = logging.getLogger(__name__)
INDEX_TIMEOUT_SECONDS = 5.0
SHUTDOWN_TIMEOUT_SECONDS = 3.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = mongo.async_client(settings)
        app.state.db = client[settings.mongodb_db]
        app.state.collections = sessions.Collections.of(app.state.db)
        app.state.readiness = Readiness(settings, app.state.db)
        app.state.query_sampler = QuerySampler(app.state.db, settings.event_queries_max_per_kb)
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
            # The review list's writes in flight finish first (bounded: they are best effort).
            with contextlib.suppress(Exception):
                await app.state.query_sampler.drain(SHUTDOWN_TIMEOUT_SECONDS)
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
    app.state.celery = create_celery(settings, waits_on_results=False)  # reads states by id only
    app.state.publisher = Publisher(app.state.celery, timeout=settings.publish_timeout_seconds)
    metrics.set_build_info()
    metrics.init_publish_series(t.value for t in TaskName)
    metrics.init_session_series()  # DELETE /v1/sessions/{id} counts reason="request"
    metrics.init_event_query_series()  # the review list's sampling (query_sampler)
    app.state.metrics_registry = metrics.registry_for_scrape()
    app.state.queue_registry = CollectorRegistry()
    app.state.queue_registry.register(QueueCollector(settings))
    for router in ROUTERS:
        app.include_router(router, responses=openapi_errors.router_responses(router))
    openapi_errors.document(app)  # what the middleware and the routes' own answers add to /openapi.json
    # Auth, size and read timeout before any body is read. Added first, so it sits inside the
    # observing middleware below and its 401/408/413 answers are counted too.
    app.add_middleware(BodyGuard, settings=settings)
    _install_middleware(app)
    return app


def _install_middleware(app: FastAPI) -> None:
    app.add_middleware(Observe)  # outermost but for the error handler: every answer is counted

    @app.exception_handler(Exception)
    async def unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the client; the log has it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
