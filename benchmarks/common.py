"""Shared set-up of the benchmarks: a Mongo server, a RabbitMQ vhost, Redis, env for ragtasks.

Benchmarks reuse the test harness (``tests/support``): real servers, nothing mocked but the LLM.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from tests.support.procs import wait_until
from tests.support.services import MongoServer, Vhost, redis_url, unique

LOG_DIR = Path(os.environ.get("RAGTASKS_TEST_LOG_DIR", "/tmp/ragtasks-bench-logs"))
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    mongo: MongoServer
    vhost: Vhost
    db_name: str

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "RAGTASKS_ENVIRONMENT": "development",
            "RAGTASKS_BROKER_URL": self.vhost.broker_url,
            "RAGTASKS_RESULT_BACKEND": redis_url(),
            "RAGTASKS_REDIS_URL": redis_url(),
            "RAGTASKS_KEY_PREFIX": unique("bench"),
            "RAGTASKS_MONGODB_URL": self.mongo.url,
            "RAGTASKS_MONGODB_DB": self.db_name,
            "RAGTASKS_API_KEYS": "bench-key-0123456789",
            "RAGTASKS_LOG_JSON": "false",
            "RAGTASKS_LLM_BASE_URL": "",
            **{f"RAGTASKS_{k}": v for k, v in overrides.items()},
        }


@contextlib.contextmanager
def stack(mongo: MongoServer | None = None, vhost: Vhost | None = None) -> Iterator[Stack]:
    """A database of its own on a Mongo server and a RabbitMQ vhost.

    Servers passed in (the smoke test's session fixtures) are reused and left running; the ones
    started here are stopped. The database is dropped either way.
    """
    own_mongo, own_vhost = mongo is None, vhost is None
    mongo = mongo if mongo is not None else MongoServer.start(LOG_DIR)
    vhost = vhost if vhost is not None else Vhost.create()
    db_name = unique("ragtasks_bench")
    try:
        yield Stack(mongo, vhost, db_name)
    finally:
        client: MongoClient[dict[str, object]] = MongoClient(mongo.url)
        with contextlib.suppress(Exception):
            client.drop_database(db_name)
        client.close()
        if own_vhost:
            vhost.delete()
        if own_mongo:
            mongo.stop()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Child:
    """A plain subprocess (a baseline server or worker) with its own process group and log."""

    popen: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        import signal

        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)


def spawn(name: str, argv: list[str], env: dict[str, str], ready_text: str, timeout: float = 60) -> Child:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as fh:
        popen = subprocess.Popen(
            [sys.executable, *argv], env=full_env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
    child = Child(popen, log)

    def ready() -> bool:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{child.log_text()[-3000:]}")
        return ready_text in child.log_text()

    wait_until(ready, timeout, 0.2, f"{name} to be ready")
    return child


# --- CPU accounting: utime + stime from /proc, so a ratio says what each process spent ----------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended between listing and reading
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces


def process_tree(root: int) -> list[int]:
    """``root`` and its living descendants (a prefork worker's pool children, say)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(root: int) -> float:
    """CPU (user + system) spent so far by ``root``'s process tree, reaped children included."""
    total = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:  # utime, stime, cutime, cstime: fields 14-17 of stat(5)
            total += sum(int(v) for v in fields[11:15])
    return total / _CLK_TCK


def listening_pid(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:``port`` (the Mongo server, say), via ``ss``."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    for token in out.replace(",", " ").split():
        if token.startswith("pid="):
            return int(token[4:])
    raise RuntimeError(f"no process found listening on port {port}")


def mongo_pid(mongo: MongoServer) -> int | None:
    """The Mongo server's pid when it runs on this machine (SecantusDB); None for a remote one."""
    from urllib.parse import urlsplit

    where = urlsplit(mongo.url)
    if where.hostname not in ("127.0.0.1", "localhost") or where.port is None:
        return None
    try:
        return listening_pid(where.port)
    except (RuntimeError, OSError, subprocess.CalledProcessError):
        return None  # e.g. a container's port: its CPU is not ours to read
