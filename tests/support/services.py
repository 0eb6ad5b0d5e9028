"""The real back-ends of the tests: a Mongo server, a RabbitMQ vhost, Redis.

- Mongo: ``RAGTASKS_TEST_MONGODB_URL`` if set (CI's ``mongo:7`` service); otherwise a SecantusDB
  server process started from its own virtualenv (``.venv-mongo``, GPL-2.0, never imported), on
  the lifecycle every server a test runs shares (``server_process.py``).
- RabbitMQ: a fresh vhost per test run, so concurrent runs never share queues; created and
  deleted through the local broker's management API when it answers (milliseconds), else with
  ``rabbitmqctl`` (an Erlang VM per call: seconds each on a busy machine);
  ``RAGTASKS_TEST_BROKER_URL`` overrides (then that vhost is used as is).
- Redis: ``RAGTASKS_TEST_REDIS_URL`` or the local server; keys are namespaced per run.
A service that cannot be reached fails the run: never a silent skip.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ragtasks_core.pids import pid_alive

from .procs import ROOT
from .server_process import ServerProcess

MONGO_BIN = ROOT / ".venv-mongo" / "bin" / "secantusd-py"


def rabbitmqctl() -> list[str]:
    return shlex.split(os.environ.get("RAGTASKS_TEST_RABBITMQCTL", "rabbitmqctl"))


def run_ctl(*args: str, timeout: float = 60) -> str:
    out = subprocess.run([*rabbitmqctl(), *args], capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout


MANAGEMENT_API = "http://127.0.0.1:15672/api"


@functools.cache
def management_api() -> bool:
    """Whether vhosts can be managed through the local broker's management API (``make test``
    enables the plugin): only when the tests talk to that broker, not through
    ``RAGTASKS_TEST_RABBITMQCTL`` (another broker, e.g. in a container)."""
    if "RAGTASKS_TEST_RABBITMQCTL" in os.environ:
        return False
    try:
        return httpx.get(f"{MANAGEMENT_API}/overview", auth=("guest", "guest"), timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _api(method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = httpx.request(method, f"{MANAGEMENT_API}{path}", auth=("guest", "guest"), timeout=60, **kwargs)
    response.raise_for_status()
    return response


def list_vhosts() -> list[str]:
    if management_api():
        return [v["name"] for v in _api("GET", "/vhosts", params={"columns": "name"}).json()]
    return run_ctl("list_vhosts", "--no-table-headers", "-q").split()


def add_vhost(name: str) -> None:
    """A new vhost where guest may do anything."""
    if management_api():
        _api("PUT", f"/vhosts/{quote(name, safe='')}", json={})
        _api(
            "PUT",
            f"/permissions/{quote(name, safe='')}/guest",
            json=dict.fromkeys(("configure", "write", "read"), ".*"),
        )
        return
    run_ctl("add_vhost", name)
    run_ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    """Delete ``name`` if it still exists (best effort: a leftover is reaped by a later run)."""
    if management_api():
        with contextlib.suppress(httpx.HTTPError):
            httpx.delete(f"{MANAGEMENT_API}/vhosts/{quote(name, safe='')}", auth=("guest", "guest"), timeout=60)
        return
    with contextlib.suppress(subprocess.SubprocessError):
        run_ctl("delete_vhost", name)


class SecantusServer(ServerProcess):
    """A SecantusDB process on a free port, storing in memory; its log stays in ``log_dir``."""

    name = "mongo"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        super().__init__()

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false"

    def binary(self) -> str:
        if not MONGO_BIN.exists():
            raise RuntimeError(f"{MONGO_BIN} is missing: run `make install` (it installs SecantusDB)")
        return str(MONGO_BIN)

    def write_files(self, directory: Path) -> None:
        """Nothing to write: the data lives in memory and the flags say the rest."""

    def argv(self, directory: Path) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(self.port), "--storage-path", ":memory:"]

    def log_file(self, directory: Path) -> Path:
        return self.log_dir / "mongo.log"

    def ready(self) -> bool:
        from pymongo import MongoClient

        try:
            client: MongoClient[dict[str, Any]] = MongoClient(self.url, serverSelectionTimeoutMS=300)
            with client:
                client.admin.command("ping")
            return True
        except Exception:  # noqa: BLE001 - not up yet, whatever the reason
            return False


@dataclass
class MongoServer:
    """The run's Mongo server: ``RAGTASKS_TEST_MONGODB_URL`` as is, or a SecantusDB process of its own."""

    url: str
    server: SecantusServer | None = None

    @classmethod
    def start(cls, log_dir: Path) -> MongoServer:
        if os.environ.get("RAGTASKS_TEST_MONGODB_URL"):
            return cls(os.environ["RAGTASKS_TEST_MONGODB_URL"])
        server = SecantusServer(log_dir).start(timeout=30)
        return cls(server.url, server)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


VHOST_PREFIX = "ragtasks-test-"
_OWNED_VHOST = re.compile(rf"^{re.escape(VHOST_PREFIX)}(\d+)-[0-9a-f]+$")


def reap_stale_vhosts() -> None:
    """Delete the test vhosts of runs that are gone (killed before their teardown).

    Each holds ~30 quorum queues (Celery's delayed-delivery topology included): left to pile up,
    they make RabbitMQ's start-up and every vhost operation crawl, and at a few dozen the broker
    stops accepting connections. A vhost is stale when the pid in its name is no longer alive, or
    it has the older name without a pid."""
    for name in list_vhosts():
        if not name.startswith(VHOST_PREFIX):
            continue
        owned = _OWNED_VHOST.match(name)
        if owned is None or not pid_alive(int(owned.group(1))):
            delete_vhost(name)


@dataclass
class Vhost:
    broker_url: str
    name: str | None = None

    @classmethod
    def create(cls) -> Vhost:
        if os.environ.get("RAGTASKS_TEST_BROKER_URL"):
            return cls(os.environ["RAGTASKS_TEST_BROKER_URL"])
        reap_stale_vhosts()
        # The pid in the name lets a later run tell a vhost left by a killed run from a live one.
        name = f"{VHOST_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:10]}"
        add_vhost(name)
        return cls(f"amqp://guest:guest@127.0.0.1:5672/{name}", name)

    def purge_work_queues(self) -> None:
        """Empty the worker queues: a task an earlier test published and nobody ran (a failure
        alert, say) must not be run by this test's workers and skew what it counts."""
        import pika
        from pika.exceptions import ChannelClosedByBroker

        from ragtasks_core.contract import TASK_QUEUES

        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        try:
            for queue in TASK_QUEUES:  # the maintenance queue too
                channel = connection.channel()
                with contextlib.suppress(ChannelClosedByBroker):  # not declared yet: nothing to purge
                    channel.queue_purge(queue)
                if channel.is_open:
                    channel.close()
        finally:
            connection.close()

    def delete(self) -> None:
        if self.name:
            delete_vhost(self.name)


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
