"""The real back-ends of the tests: a Mongo server, a RabbitMQ vhost, Redis.

- Mongo: ``RAGTASKS_TEST_MONGODB_URL`` if set (CI's ``mongo:7`` service); otherwise a SecantusDB
  server process started from its own virtualenv (``.venv-mongo``, GPL-2.0, never imported).
- RabbitMQ: a fresh vhost per test run (``rabbitmqctl``), so concurrent runs never share queues;
  ``RAGTASKS_TEST_BROKER_URL`` overrides (then that vhost is used as is).
- Redis: ``RAGTASKS_TEST_REDIS_URL`` or the local server; keys are namespaced per run.
A service that cannot be reached fails the run: never a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .procs import ROOT, free_port, wait_until

MONGO_BIN = ROOT / ".venv-mongo" / "bin" / "secantusd-py"


def rabbitmqctl() -> list[str]:
    return shlex.split(os.environ.get("RAGTASKS_TEST_RABBITMQCTL", "rabbitmqctl"))


def run_ctl(*args: str, timeout: float = 60) -> str:
    out = subprocess.run([*rabbitmqctl(), *args], capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout


@dataclass
class MongoServer:
    url: str
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, log_dir: Path) -> MongoServer:
        if os.environ.get("RAGTASKS_TEST_MONGODB_URL"):
            return cls(os.environ["RAGTASKS_TEST_MONGODB_URL"])
        if not MONGO_BIN.exists():
            raise RuntimeError(f"{MONGO_BIN} is missing: run `make install` (it installs SecantusDB)")
        port = free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "mongo.log", "wb") as fh:
            proc = subprocess.Popen(
                [str(MONGO_BIN), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = cls(f"mongodb://127.0.0.1:{port}/?retryWrites=false", proc)
        from pymongo import MongoClient

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"Mongo server exited: see {log_dir / 'mongo.log'}")
            try:
                client: MongoClient[dict[str, Any]] = MongoClient(server.url, serverSelectionTimeoutMS=300)
                with client:
                    client.admin.command("ping")
                return True
            except Exception:  # noqa: BLE001 - not up yet, whatever the reason
                return False

        wait_until(up, 30, 0.2, "the Mongo server")
        return server

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Vhost:
    broker_url: str
    name: str | None = None

    @classmethod
    def create(cls) -> Vhost:
        if os.environ.get("RAGTASKS_TEST_BROKER_URL"):
            return cls(os.environ["RAGTASKS_TEST_BROKER_URL"])
        name = f"ragtasks-test-{uuid.uuid4().hex[:10]}"
        run_ctl("add_vhost", name)
        run_ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return cls(f"amqp://guest:guest@127.0.0.1:5672/{name}", name)

    def purge_work_queues(self) -> None:
        """Empty the worker queues: a task an earlier test published and nobody ran (a failure
        alert, say) must not be run by this test's workers and skew what it counts."""
        import pika
        from pika.exceptions import ChannelClosedByBroker

        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        try:
            for queue in ("summarizer", "evaluator", "alerter"):
                channel = connection.channel()
                with contextlib.suppress(ChannelClosedByBroker):  # not declared yet: nothing to purge
                    channel.queue_purge(queue)
                if channel.is_open:
                    channel.close()
        finally:
            connection.close()

    def delete(self) -> None:
        if self.name:
            with contextlib.suppress(subprocess.SubprocessError):
                run_ctl("delete_vhost", self.name)


def redis_url() -> str:
    return os.environ.get("RAGTASKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def check_reachable(broker_url: str, redis: str) -> None:
    import redis as redis_lib
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=3)
    redis_lib.Redis.from_url(redis, socket_connect_timeout=5).ping()


def unique(prefix: str) -> str:
    return f"{prefix}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
