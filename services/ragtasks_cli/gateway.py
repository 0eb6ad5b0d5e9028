"""``ragtasks gateway``: the FastAPI app under uvicorn."""

from __future__ import annotations

import argparse

from .common import settings_with_logging


def run(args: argparse.Namespace) -> None:
    import uvicorn

    from ragtasks_core import tracing
    from ragtasks_gateway.app import create_app

    settings = settings_with_logging()
    # Before the app: its Mongo and Redis clients are made under the instrumentations.
    tracing.setup_tracing("gateway")
    app = create_app(settings)
    tracing.instrument_fastapi(app)
    uvicorn.run(
        app,
        host=args.host or settings.gateway_host,
        port=args.port or settings.gateway_port,
        log_config=None,
        access_log=False,
    )
