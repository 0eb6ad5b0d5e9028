"""Shared set-up of the benchmarks: a Mongo server, a RabbitMQ vhost, Redis, env for ragtasks.

Benchmarks reuse the test harness (``tests/support``): real servers, nothing mocked but the LLM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from celery import Celery
from celery.result import AsyncResult
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_openai import FakeOpenAI
from tests.support.procs import wait_until
from tests.support.services import MongoServer, Vhost, redis_url, unique

from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings

LOG_DIR = Path(os.environ.get("RAGTASKS_TEST_LOG_DIR", "/tmp/ragtasks-bench-logs"))
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    mongo: MongoServer
    vhost: Vhost
    db_name: str

    def env(self, **overrides: str) -> dict[str, str]:
        """The ``RAGTASKS_*`` environment of a process on this stack; overrides without the prefix."""
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


def main_for(
    measure: Callable[..., dict[str, object]], description: str | None, argv: list[str] | None, **defaults: float
) -> None:
    """A benchmark's command line: one ``--name`` option per default (typed like it), then
    ``measure(stack, **options)`` on a stack of its own, printed as one JSON line."""
    parser = argparse.ArgumentParser(description=description)
    for name, default in defaults.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    with stack() as s:
        report = measure(s, **vars(args))
    print(json.dumps(report), flush=True)


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


T = TypeVar("T")


def with_cpu(
    work: Callable[[], T], count: int, pid: int, mongo: int | None, *, role: str, per: str
) -> tuple[T, dict[str, float]]:
    """Run ``work``; its result, and the CPU in ms per one of its ``count`` units (``per``) that
    ``pid``'s process tree (``role``) and the Mongo server spent meanwhile, with Mongo's share of
    the two: on this machine the Mongo server (SecantusDB, Python) shares the cores."""
    own_before, mongo_before = cpu_seconds(pid), cpu_seconds(mongo) if mongo else 0.0
    result = work()
    own_ms = (cpu_seconds(pid) - own_before) * 1000 / count
    cpu = {f"{role}_cpu_ms_per_{per}": round(own_ms, 3)}
    if mongo:
        mongo_ms = (cpu_seconds(mongo) - mongo_before) * 1000 / count
        cpu[f"mongo_cpu_ms_per_{per}"] = round(mongo_ms, 3)
        cpu["mongo_cpu_share"] = round(mongo_ms / (mongo_ms + own_ms), 3) if mongo_ms + own_ms else 0.0
    return result, cpu


# --- The summarizer under a benchmark: its worker, a client that publishes, the tasks' results ---


def wait_all(app: Celery, ids: list[str], timeout: float = 300) -> None:
    """Wait until every task has a result; fail on a timeout or on any task that did not succeed."""
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if AsyncResult(i, app=app).state not in ("SUCCESS", "FAILURE")]
        if pending:
            time.sleep(0.05)
    if pending:
        raise TimeoutError(f"{len(pending)} tasks unfinished")
    failed = [i for i in ids if AsyncResult(i, app=app).state != "SUCCESS"]
    if failed:
        raise RuntimeError(f"{len(failed)} tasks failed, e.g. {AsyncResult(failed[0], app=app).result!r}")


@dataclass
class Summarizer:
    """A running ``ragtasks worker summarizer``, a Celery client of the same settings, and the
    stack's database."""

    worker: procs.Proc
    app: Celery
    db: Any

    def summarize(self, sessions: list[str]) -> float:
        """Publish one summary task per session, as the gateway does; seconds until all succeeded."""
        ids = [f"{session_id}-{uuid.uuid4().hex}" for session_id in sessions]
        started = time.perf_counter()
        for session_id, task_id in zip(sessions, ids, strict=True):
            self.app.send_task(
                TaskName.SUMMARIZE_SESSION.value, kwargs={"v": 1, "session_id": session_id}, task_id=task_id
            )
        wait_all(self.app, ids)
        return time.perf_counter() - started


@contextlib.contextmanager
def run_summarizer(s: Stack, llm: FakeOpenAI, concurrency: int, **overrides: str) -> Iterator[Summarizer]:
    """Start ``llm`` and a summarizer worker pointed at it (a rate limit that never binds, the
    newest message kept verbatim, ``RAGTASKS_*`` overrides without the prefix); stop both on exit."""
    with contextlib.ExitStack() as cleanup:
        llm.start()
        cleanup.callback(llm.stop)
        env = s.env(
            LLM_BASE_URL=llm.base_url,
            LLM_API_KEY="sk-bench",
            LLM_RATE_LIMIT="100000/s",
            SUMMARY_KEEP_RECENT_MESSAGES="1",
            **overrides,
        )
        worker = procs.start_worker("summarizer", env, LOG_DIR, concurrency=concurrency)
        cleanup.callback(worker.stop)
        client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
        cleanup.callback(client.close)
        app = create_celery(Settings(**{k[len("RAGTASKS_") :].lower(): v for k, v in env.items()}))  # type: ignore[arg-type]
        cleanup.callback(app.close)
        yield Summarizer(worker, app, client[s.db_name])
