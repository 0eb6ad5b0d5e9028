"""``ragtasks beat``: the scheduler, with its metrics endpoint."""

from __future__ import annotations

import argparse

from .common import settings_with_logging


def run(args: argparse.Namespace) -> None:
    from ragtasks_core import tracing
    from ragtasks_core.metrics import set_build_info
    from ragtasks_core.metrics_server import serve_metrics
    from ragtasks_scheduler.beat import run_beat

    settings = settings_with_logging()
    tracing.setup_tracing("beat")
    set_build_info()
    serve_metrics(args.metrics_port or settings.beat_metrics_port, settings.effective_metrics_host)
    run_beat(settings, schedule_file=args.schedule_file, loglevel=settings.log_level)
