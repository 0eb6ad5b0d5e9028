"""The faults ``make chaos`` injects, and the restartable Mongo server they need.

Each fault returns when the service it broke is back (the process restarted, the app started);
recovery is measured by the caller from the fault's start until the system makes progress again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import procs
from tests.support.procs import free_port, wait_until
from tests.support.services import MONGO_BIN, run_ctl

from .common import process_tree


@dataclass
class PersistentMongo:
    """A SecantusDB server on a fixed port with its data on disk, so a restart keeps the data.

    The tests' server stores in memory (a restart would be a new, empty database): the chaos soak
    needs the same port and the same storage directory across restarts, as a real deployment has.
    """

    data_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false"

    def start(self, timeout: float = 60) -> PersistentMongo:
        if not MONGO_BIN.exists():
            raise RuntimeError(f"{MONGO_BIN} is missing: run `make install` (it installs SecantusDB)")
        if os.environ.get("RAGTASKS_TEST_MONGODB_URL"):
            raise RuntimeError("the chaos soak restarts its own Mongo server: unset RAGTASKS_TEST_MONGODB_URL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(MONGO_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", str(self.data_dir)]
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self._ready, timeout, 0.2, "the Mongo server to accept connections")
        return self

    def _ready(self) -> bool:
        from pymongo import MongoClient

        assert self.popen is not None
        if self.popen.poll() is not None:
            raise RuntimeError(f"the Mongo server exited:\n{self.log_path.read_text(errors='replace')[-2000:]}")
        try:
            client: MongoClient[dict[str, Any]] = MongoClient(self.url, serverSelectionTimeoutMS=300)
            with client:
                client.admin.command("ping")
            return True
        except Exception:  # noqa: BLE001 - not up yet, whatever the reason
            return False

    def stop(self, timeout: float = 20) -> None:
        """A clean shutdown (SIGTERM; SIGKILL only if it hangs): acknowledged writes are on disk."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self.popen = None


@dataclass
class Workers:
    """The summarizer the faults kill and restart; how to start another one like it."""

    summarizer: procs.Proc
    start_summarizer: Callable[[], procs.Proc]
    notes: list[str] = field(default_factory=list)


def pool_children(parent: int) -> list[int]:
    return [pid for pid in process_tree(parent) if pid != parent]


def kill_summarizer_child(workers: Workers) -> None:
    """``kill -9`` one prefork child; the parent replaces it, the broker redelivers its task."""
    parent = workers.summarizer.popen.pid
    children = wait_until(lambda: pool_children(parent), 30, 0.2, "the summarizer's pool children")
    os.kill(children[0], signal.SIGKILL)
    workers.notes.append(f"killed summarizer child {children[0]} of {parent}")
    wait_until(lambda: children[0] not in pool_children(parent) and pool_children(parent), 60, 0.2, "a new child")


def kill_summarizer_parent(workers: Workers) -> None:
    """``kill -9`` the summarizer's main process, then start a new summarizer in its place.

    The parent's unacked messages go back to the queue when its connection drops. Its pool
    children notice their parent is gone and exit; whatever is left a few seconds later is killed
    too, so no orphan keeps running a task the new worker also gets."""
    old = workers.summarizer
    os.kill(old.popen.pid, signal.SIGKILL)
    old.popen.wait(10)
    time.sleep(3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(old.popen.pid, signal.SIGKILL)
    workers.notes.append(f"killed summarizer parent {old.popen.pid}")
    workers.summarizer = workers.start_summarizer()


def restart_rabbitmq(outage_seconds: float) -> None:
    """``rabbitmqctl stop_app``, a short outage (other runs share this broker), ``start_app``."""
    run_ctl("stop_app")
    try:
        time.sleep(outage_seconds)
    finally:
        run_ctl("start_app")


def restart_mongo(mongo: PersistentMongo, down_seconds: float) -> None:
    """Stop the Mongo server, keep it down a moment, start it on the same port and data."""
    mongo.stop()
    time.sleep(down_seconds)
    mongo.start()
