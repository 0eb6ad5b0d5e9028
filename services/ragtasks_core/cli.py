"""``ragtasks``: one command line for every component.

ragtasks gateway [--host H] [--port P]
ragtasks worker summarizer|evaluator|alerter [--concurrency N] [--metrics-port P] [--pool ...]
ragtasks beat
ragtasks flower [--port P]
ragtasks publish TASK --json '{...}' [--task-id ID] [--no-validate]
ragtasks dlq list|replay|purge QUEUE [--limit N] [--id TASK_ID ...] [--yes] [--json]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
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
    if (args.pool or settings.worker_pool) == "prefork":
        ensure_multiproc_dir()
    app = worker.build_worker_app(settings, queue)
    worker.declare_topology(app)
    worker.serve_metrics(args.metrics_port or settings.metrics_port_for(queue.value))
    app.worker_main(celery_worker_argv(args, settings))


MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
OWNED_DIR_ENV = "RAGTASKS_OWNED_MULTIPROC_DIR"


def ensure_multiproc_dir() -> None:
    """Prefork children each write metric files; without a shared directory /metrics undercounts.

    The start-up scripts (scripts/docker-entrypoint.sh, scripts/run-local.sh) set and wipe
    ``PROMETHEUS_MULTIPROC_DIR``. Started bare, the worker makes a fresh private directory and
    re-executes itself with it: prometheus_client chooses its storage when first imported, so
    setting the variable from inside an already running Python is exactly the pitfall. The
    directory is removed when the worker exits.
    """
    path = os.environ.get(MULTIPROC_DIR_ENV)
    if path:
        if os.environ.get(OWNED_DIR_ENV) == path:
            owner = os.getpid()
            atexit.register(_remove_owned_dir, path, owner)
        return
    path = tempfile.mkdtemp(prefix="ragtasks-metrics-")
    print(f"ragtasks: {MULTIPROC_DIR_ENV} is not set; using {path} (removed at exit)", file=sys.stderr, flush=True)
    env = {**os.environ, MULTIPROC_DIR_ENV: path, OWNED_DIR_ENV: path}
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)  # noqa: S606 - our own argv, re-run


def _remove_owned_dir(path: str, owner: int) -> None:
    if os.getpid() == owner:  # forked pool children inherit atexit hooks; only the worker cleans up
        shutil.rmtree(path, ignore_errors=True)


def celery_worker_argv(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The Celery command line of ``ragtasks worker NAME``: its own queue, its own concurrency."""
    queue = Queue(args.name)
    return [
        "worker",
        f"--queues={queue.value}",
        f"--concurrency={args.concurrency or settings.concurrency_for(queue.value)}",
        f"--pool={args.pool or settings.worker_pool}",
        f"--hostname={args.hostname or queue.value + '@%h'}",
        f"--loglevel={settings.log_level}",
        f"--prefetch-multiplier={args.prefetch_multiplier or 1}",
        f"--max-tasks-per-child={args.max_tasks_per_child or settings.worker_max_tasks_per_child}",
        # Gossip and mingle cost start-up time and broker traffic that nothing here uses.
        "--without-gossip",
        "--without-mingle",
    ]


def cmd_beat(args: argparse.Namespace) -> None:
    from ragtasks_scheduler.beat import run_beat

    from .metrics import set_build_info
    from .worker import serve_metrics

    settings = _settings()
    setup_logging(settings.log_level, json_output=settings.log_json)
    set_build_info()
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


def cmd_publish(args: argparse.Namespace) -> None:
    """Publish one task by name with pika (the same wire format as every other producer)."""
    import json

    from ragtasks_publisher import PublishFailed, TaskPublisher

    from .contract import TaskName
    from .contract.registry import model_for

    if args.task not in {t.value for t in TaskName}:
        raise SystemExit(f"ragtasks publish: unknown task {args.task!r}; known: {', '.join(t.value for t in TaskName)}")
    try:
        kwargs = json.loads(args.json)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"ragtasks publish: --json is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise SystemExit("ragtasks publish: --json must be a JSON object (the task's keyword arguments)")
    model = model_for(args.task)
    if model is not None and not args.no_validate:
        try:
            kwargs = model.model_validate(kwargs).model_dump(mode="json")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors()
            )
            raise SystemExit(f"ragtasks publish: invalid {model.__name__} payload: {problems}") from None
    settings = _settings()
    try:
        with TaskPublisher(settings.broker_url) as publisher:
            print(publisher.publish(args.task, kwargs, task_id=args.task_id))
    except PublishFailed as exc:
        raise SystemExit(f"ragtasks publish: {exc}") from None


def cmd_dlq(args: argparse.Namespace) -> None:
    """Inspect, replay or purge the dead-letter queue of one worker queue."""
    import json

    from pika.exceptions import AMQPError

    from . import dlq

    settings = _settings()
    try:
        queue = dlq.resolve_queue(args.queue)
        if args.action == "list":
            count, items = dlq.list_messages(settings.broker_url, queue, limit=args.limit)
            if args.json:
                print(json.dumps({"queue": f"{queue.value}.dlq", "count": count, "messages": [vars(i) for i in items]}))
                return
            print(f"{queue.value}.dlq: {count} message(s){f', showing {len(items)}' if len(items) < count else ''}")
            for item in items:
                age = "?" if item.age_seconds is None else f"{item.age_seconds:.0f}s"
                print(f"{item.task_id or '-'}  {item.task or '-'}  age={age}  reason: {item.reason}")
        elif args.action == "replay":
            replayed = dlq.replay(settings.broker_url, queue, ids=set(args.id) if args.id else None)
            print(f"replayed {replayed} message(s) from {queue.value}.dlq")
        else:
            if not args.yes:
                raise SystemExit(f"ragtasks dlq purge: this deletes every message in {queue.value}.dlq; add --yes")
            print(f"purged {dlq.purge(settings.broker_url, queue)} message(s) from {queue.value}.dlq")
    except dlq.UnknownQueue as exc:
        raise SystemExit(f"ragtasks dlq: {exc}") from None
    except AMQPError as exc:
        raise SystemExit(f"ragtasks dlq: broker error: {exc!r}") from None


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
    wk.add_argument("--hostname", help="Celery node name (default QUEUE@%%h); unique per worker process")
    wk.set_defaults(func=cmd_worker)

    bt = sub.add_parser("beat", help="run the scheduler (exactly one replica)")
    bt.add_argument("--metrics-port", type=int)
    bt.add_argument("--schedule-file")
    bt.set_defaults(func=cmd_beat)

    fl = sub.add_parser("flower", help="run Flower, Celery's monitoring UI")
    fl.add_argument("--port", type=int, default=5555)
    fl.add_argument("--address", default="127.0.0.1")
    fl.set_defaults(func=cmd_flower)

    pb = sub.add_parser("publish", help="publish one task by name (pika, publisher confirms)")
    pb.add_argument("task", help="a task name, e.g. ragtasks.summarizer.summarize_session")
    pb.add_argument("--json", default="{}", help="the task's keyword arguments as a JSON object")
    pb.add_argument("--task-id", help="use this task id (default: a new UUID)")
    pb.add_argument("--no-validate", action="store_true", help="skip the payload model check before sending")
    pb.set_defaults(func=cmd_publish)

    dl = sub.add_parser("dlq", help="list, replay or purge a worker queue's dead-letter queue")
    dl.add_argument("action", choices=["list", "replay", "purge"])
    dl.add_argument("queue", help="summarizer | evaluator | alerter (or <queue>.dlq)")
    dl.add_argument("--limit", type=_positive, default=20, help="list: show at most N messages")
    dl.add_argument("--id", action="append", help="replay: only this task id (repeatable)")
    dl.add_argument("--yes", action="store_true", help="purge: confirm")
    dl.add_argument("--json", action="store_true", help="list: print JSON")
    dl.set_defaults(func=cmd_dlq)
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
