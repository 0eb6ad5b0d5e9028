"""One Mongo client per worker process: the server's connection count stays flat over 500 tasks.

``serverStatus.connections.current`` (SecantusDB reports it, as mongod does) is sampled before
the worker starts, once it is warm, while 500 summarize tasks run, and after. The second worker
recycles its children every 50 tasks (``--max-tasks-per-child``): each child opens its client
after fork and closes it at exit, so recycling must not leak either.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from pymongo import MongoClient

from tests.support.procs import metric_value, metrics_text, wait_until

from .conftest import publish_summary, seed_session

TASKS = 500
SESSIONS = 10
NAME = "ragtasks.summarizer.summarize_session"


def connections(client: MongoClient) -> tuple[int, int]:
    status = client.admin.command("serverStatus")["connections"]
    return int(status["current"]), int(status["totalCreated"])


def done(port: int) -> float:
    return metric_value(metrics_text(port), "ragtasks_tasks_total", {"task": NAME, "outcome": "success"})


def run_batch(celery_client: Any, worker: Any, client: MongoClient, count: int) -> list[int]:
    """Publish ``count`` tasks and sample the connection count until all have succeeded."""
    start = done(worker.port)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(connections(client)[0])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        for i in range(count):
            publish_summary(celery_client, f"conn-{i % SESSIONS}", f"conn-{uuid.uuid4().hex}")
        wait_until(lambda: done(worker.port) >= start + count, 120, 0.5, f"{count} tasks")
    finally:
        stop.set()
        sampler.join()
    return samples


def test_mongo_connections_stay_flat(
    worker_env: dict[str, str], start_worker: Any, celery_client: Any, db: Any, mongo_server: Any
) -> None:
    # Sessions with nothing to do (fewer messages than are kept verbatim): each task reads Mongo.
    for i in range(SESSIONS):
        seed_session(db, f"conn-{i}", ["hello.", "hi."])
    # One pooled connection at most, so the observer itself never changes the count it samples.
    client: MongoClient = MongoClient(mongo_server.url, maxPoolSize=1)
    try:
        report = []
        for label, extra in (("steady", []), ("recycling", ["--max-tasks-per-child", "50"])):
            baseline, _ = connections(client)
            worker = start_worker("summarizer", worker_env, concurrency=2, extra_args=extra)
            run_batch(celery_client, worker, client, 20)  # warm: both children have their client
            warm, created_before = connections(client)
            samples = run_batch(celery_client, worker, client, TASKS)
            after, created_after = connections(client)
            worker.stop()
            report.append(
                f"{label}: before={baseline} warm={warm} during=max {max(samples)} after={after} "
                f"opened_during={created_after - created_before}"
            )
            closed = f"connections back to {baseline}: {report}"
            wait_until(lambda: connections(client)[0], 30, 0.2, closed, until=baseline.__ge__)
            stopped, _ = connections(client)
            report[-1] += f" stopped={stopped}"
            per_process = (warm - baseline) / 2
            assert 1 <= per_process <= 4, report  # one small client per child, not one per task
            if label == "steady":
                assert max(samples) <= warm, report
                assert after == warm, report
                assert created_after - created_before == 0, report  # no reconnects at all
            else:
                # A recycled child closes its client at exit and its replacement opens one: at
                # most one child's connections overlap, and nothing accumulates.
                assert max(samples) <= warm + per_process, report
                assert after <= warm, report
                assert created_after - created_before >= (TASKS // 50 - 2) * per_process, report
            assert stopped <= baseline, report
        print("\n" + "\n".join(report))
    finally:
        client.close()
