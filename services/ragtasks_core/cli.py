"""``ragtasks``: one command line for every component.

ragtasks gateway [--host H] [--port P]
ragtasks worker summarizer|evaluator|alerter [--concurrency N] [--metrics-port P] [--pool ...]
ragtasks beat
ragtasks flower [--port P]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from urllib.parse import quote

from pydantic import ValidationError

from .contract import Queue
from .logs import setup_logging
from .settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  RAGTASKS_{'_'.join(str(p) for p in e['loc']).upper() or '(settings)'}: {e['msg']}" for e in exc.errors()
        ]
        raise SystemExit("ragtasks: invalid settings:\n" + "\n".join(lines)) from None


def cmd_gateway(args: argparse.Namespace) -> None:
    import uvicorn

    from ragtasks_gateway.app import create_app

    settings = _settings()
    setup_logging(settings.log_level, json_output=settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.gateway_host,
        port=args.port or settings.gateway_port,
        log_config=None,
        access_log=False,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from . import worker

    settings = _settings()
    setup_logging(settings.log_level, json_output=settings.log_json)
    queue = Queue(args.name)
    pool = args.pool or settings.worker_pool
    if pool == "prefork" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        print(
            "ragtasks: warning: PROMETHEUS_MULTIPROC_DIR is not set; /metrics will only show the parent "
            "process (use scripts/docker-entrypoint.sh or set it to an empty directory)",
            file=sys.stderr,
        )
    app = worker.build_worker_app(settings, queue)
    worker.declare_topology(app)
    worker.serve_metrics(args.metrics_port or settings.metrics_port_for(queue.value))
    argv = [
        "worker",
        f"--queues={queue.value}",
        f"--concurrency={args.concurrency or settings.concurrency_for(queue.value)}",
        f"--pool={pool}",
        f"--hostname={queue.value}@%h",
        f"--loglevel={settings.log_level}",
        f"--prefetch-multiplier={args.prefetch_multiplier or 1}",
        f"--max-tasks-per-child={args.max_tasks_per_child or settings.worker_max_tasks_per_child}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv)


def cmd_beat(args: argparse.Namespace) -> None:
    from ragtasks_scheduler.beat import run_beat

    from .worker import serve_metrics

    settings = _settings()
    setup_logging(settings.log_level, json_output=settings.log_json)
    serve_metrics(args.metrics_port or settings.beat_metrics_port)
    run_beat(settings, schedule_file=args.schedule_file, loglevel=settings.log_level)


def cmd_flower(args: argparse.Namespace) -> None:
    from .celery_app import create_celery
    from .queue_metrics import management_endpoint

    settings = _settings()
    app = create_celery(settings)
    base, (user, password), _ = management_endpoint(settings)
    host = base.split("://", 1)[1]
    broker_api = f"{base.split('://', 1)[0]}://{quote(user)}:{quote(password)}@{host}/api/"
    app.start(["flower", f"--port={args.port}", f"--address={args.address}", f"--broker_api={broker_api}"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragtasks", description="ragtasks: background tasks for a RAG service")
    sub = parser.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="run the HTTP gateway")
    gw.add_argument("--host")
    gw.add_argument("--port", type=int)
    gw.set_defaults(func=cmd_gateway)

    wk = sub.add_parser("worker", help="run one worker on its own queue")
    wk.add_argument("name", choices=[q.value for q in Queue])
    wk.add_argument("--concurrency", type=_positive)
    wk.add_argument("--metrics-port", type=int)
    wk.add_argument("--pool", choices=["prefork", "threads", "solo"])
    wk.add_argument("--prefetch-multiplier", type=_positive)
    wk.add_argument("--max-tasks-per-child", type=_positive)
    wk.set_defaults(func=cmd_worker)

    bt = sub.add_parser("beat", help="run the scheduler (exactly one replica)")
    bt.add_argument("--metrics-port", type=int)
    bt.add_argument("--schedule-file")
    bt.set_defaults(func=cmd_beat)

    fl = sub.add_parser("flower", help="run Flower, Celery's monitoring UI")
    fl.add_argument("--port", type=int, default=5555)
    fl.add_argument("--address", default="127.0.0.1")
    fl.set_defaults(func=cmd_flower)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    func(args)


if __name__ == "__main__":
    main()
