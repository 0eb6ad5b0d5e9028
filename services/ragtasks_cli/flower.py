"""``ragtasks flower``: Celery's monitoring UI, pointed at RabbitMQ's management API."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from .common import load_settings


def run(args: argparse.Namespace) -> None:
    from ragtasks_core.celery_app import create_celery
    from ragtasks_core.queue_metrics import management_endpoint

    settings = load_settings()
    app = create_celery(settings)
    base, (user, password), _ = management_endpoint(settings)
    host = base.split("://", 1)[1]
    broker_api = f"{base.split('://', 1)[0]}://{quote(user)}:{quote(password)}@{host}/api/"
    app.start(["flower", f"--port={args.port}", f"--address={args.address}", f"--broker_api={broker_api}"])
