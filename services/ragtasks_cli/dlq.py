"""``ragtasks dlq list|replay|purge QUEUE``: inspect, replay or purge one task queue's dead letters.

QUEUE is any of ``contract.TASK_QUEUES``: a worker's own queue or ``maintenance`` (beat's periodic work).
"""

from __future__ import annotations

import argparse
import json

from .common import load_settings


def run(args: argparse.Namespace) -> None:
    from pika.exceptions import AMQPError

    from ragtasks_core import dlq

    settings = load_settings()
    try:
        queue = dlq.resolve_queue(args.queue)
        if args.action == "list":
            count, items = dlq.list_messages(settings.broker_url, queue, limit=args.limit)
            if args.json:
                print(json.dumps({"queue": f"{queue}.dlq", "count": count, "messages": [vars(i) for i in items]}))
                return
            print(f"{queue}.dlq: {count} message(s){f', showing {len(items)}' if len(items) < count else ''}")
            for item in items:
                age = "?" if item.age_seconds is None else f"{item.age_seconds:.0f}s"
                print(f"{item.task_id or '-'}  {item.task or '-'}  age={age}  reason: {item.reason}")
        elif args.action == "replay":
            replayed = dlq.replay(settings.broker_url, queue, ids=set(args.id) if args.id else None)
            print(f"replayed {replayed} message(s) from {queue}.dlq")
        else:
            if not args.yes:
                raise SystemExit(f"ragtasks dlq purge: this deletes every message in {queue}.dlq; add --yes")
            print(f"purged {dlq.purge(settings.broker_url, queue)} message(s) from {queue}.dlq")
    except dlq.UnknownQueue as exc:
        raise SystemExit(f"ragtasks dlq: {exc}") from None
    except AMQPError as exc:
        raise SystemExit(f"ragtasks dlq: broker error: {exc!r}") from None
