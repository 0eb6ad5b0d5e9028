"""``ragtasks``: one command line for every component.

ragtasks gateway [--host H] [--port P]
ragtasks worker summarizer|evaluator|alerter [--concurrency N] [--metrics-port P] [--pool ...]
ragtasks beat
ragtasks flower [--port P]
ragtasks publish TASK --json '{...}' [--task-id ID] [--no-validate] [--traceparent TP]
ragtasks dlq list|replay|purge QUEUE [--limit N] [--id TASK_ID ...] [--yes] [--json]
ragtasks alerts check-config FILE
ragtasks eval import|export DIR --kb KB [--split test] [--gateway URL] [--api-key KEY]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from ragtasks_core.contract import Queue

from . import alerts, beat, dlq, eval_queries, flower, gateway, publish, worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragtasks", description="ragtasks: background tasks for a RAG service")
    sub = parser.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="run the HTTP gateway")
    gw.add_argument("--host")
    gw.add_argument("--port", type=int)
    gw.set_defaults(func=gateway.run)

    wk = sub.add_parser("worker", help="run one worker on its own queue")
    wk.add_argument("name", choices=[q.value for q in Queue])
    wk.add_argument("--concurrency", type=_positive)
    wk.add_argument("--metrics-port", type=int)
    wk.add_argument("--pool", choices=["prefork", "threads", "solo"])
    wk.add_argument("--prefetch-multiplier", type=_positive)
    wk.add_argument("--max-tasks-per-child", type=_positive)
    wk.add_argument("--hostname", help="Celery node name (default QUEUE@%%h); unique per worker process")
    wk.set_defaults(func=worker.run)

    bt = sub.add_parser("beat", help="run the scheduler (exactly one replica)")
    bt.add_argument("--metrics-port", type=int)
    bt.add_argument("--schedule-file")
    bt.set_defaults(func=beat.run)

    fl = sub.add_parser("flower", help="run Flower, Celery's monitoring UI")
    fl.add_argument("--port", type=int, default=5555)
    fl.add_argument("--address", default="127.0.0.1")
    fl.set_defaults(func=flower.run)

    pb = sub.add_parser("publish", help="publish one task by name (pika, publisher confirms)")
    pb.add_argument("task", help="a task name, e.g. ragtasks.summarizer.summarize_session")
    pb.add_argument("--json", default="{}", help="the task's keyword arguments as a JSON object")
    pb.add_argument("--task-id", help="use this task id (default: a new UUID)")
    pb.add_argument("--no-validate", action="store_true", help="skip the payload model check before sending")
    pb.add_argument(
        "--traceparent", help="a W3C traceparent (00-TRACEID-SPANID-FLAGS): the task's span joins that trace"
    )
    pb.set_defaults(func=publish.run)

    dl = sub.add_parser("dlq", help="list, replay or purge a worker queue's dead-letter queue")
    dl.add_argument("action", choices=["list", "replay", "purge"])
    dl.add_argument("queue", help="summarizer | evaluator | alerter | maintenance (or <queue>.dlq)")
    dl.add_argument("--limit", type=_positive, default=20, help="list: show at most N messages")
    dl.add_argument("--id", action="append", help="replay: only this task id (repeatable)")
    dl.add_argument("--yes", action="store_true", help="purge: confirm")
    dl.add_argument("--json", action="store_true", help="list: print JSON")
    dl.set_defaults(func=dlq.run)
    alerts.add_parser(sub)
    eval_queries.add_parser(sub)
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
