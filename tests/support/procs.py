"""Start real ragtasks processes (workers, gateway, beat, Flower) for integration tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    probe: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    message: str = "condition",
    *,
    until: Callable[[T], object] | None = None,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``probe()`` every ``interval`` seconds until it is done, and return its last value.

    Done means truthy, or ``until(value)`` when given: then the probe can return what it observed
    (a task's body, say) and the caller gets the final value back. The probe runs at least once,
    the last time at or after the deadline, so a slow probe is not cut short. On timeout, TimeoutError
    names ``message`` and the last value seen (unless None or a bool: it would say nothing), plus
    ``detail()`` when given (a log tail, the tasks still missing).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value) if until is not None else value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(_timeout_message(timeout, message, value, detail))
        time.sleep(interval)


def _timeout_message(timeout: float, message: str, value: object, detail: Callable[[], str] | None) -> str:
    text = f"timed out after {timeout}s waiting for {message}"
    if value is not None and not isinstance(value, bool):
        text += f"; last seen: {value!r:.1000}"
    return f"{text}\n{detail()}" if detail is not None else text


@dataclass
class Proc:
    """A running ragtasks component; ``log`` is its combined stdout/stderr file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    multiproc_dir: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    _terminated: bool = field(default=False, repr=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """Begin a warm shutdown (SIGTERM to the process group), once: a second signal could cut
        Celery's warm shutdown short."""
        if self.alive() and not self._terminated:
            self._terminated = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole process group."""
        self.terminate()
        if self.alive():
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._cleanup()

    def kill(self) -> None:
        """kill -9 of the whole process group (parent and prefork children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def _cleanup(self) -> None:
        if self.multiproc_dir is not None:
            shutil.rmtree(self.multiproc_dir, ignore_errors=True)


def stop_all(started: Sequence[Proc], timeout: float = 20) -> None:
    """Stop several processes side by side: every one is told to shut down before any is waited
    for, so their warm shutdowns (a second or more for a worker) overlap instead of adding up."""
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.stop(timeout)


def start_together(*starts: Callable[[], T]) -> list[T]:
    """Run several ``start_*`` calls at once and return what each returned, in order.

    A start-up is mostly a new interpreter importing the service (seconds of CPU): on two cores
    two of them take about as long as one. Every call runs to the end before an error is raised,
    so whatever did start is handed to its fixture and stopped at teardown."""
    with ThreadPoolExecutor(max_workers=len(starts) or 1) as pool:
        futures = [pool.submit(start) for start in starts]
        wait(futures)
    return [future.result() for future in futures]


def _spawn(name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, multiproc: bool) -> Proc:
    log_dir.mkdir(parents=True, exist_ok=True)
    # Unique even for two replicas started in the same millisecond (start_together).
    log = log_dir / f"{name}-{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}.log"
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    mp_dir = None
    if multiproc:
        # Exactly what the start-up script does: a fresh, empty directory per process tree.
        mp_dir = Path(tempfile.mkdtemp(prefix=f"prom-{name}-"))
        full_env["PROMETHEUS_MULTIPROC_DIR"] = str(mp_dir)
    with open(log, "wb") as fh:
        popen = subprocess.Popen(
            [str(BIN / "ragtasks"), *argv], env=full_env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(name, popen, log, multiproc_dir=mp_dir)


def start_worker(
    queue: str,
    env: Mapping[str, str],
    log_dir: Path,
    *,
    concurrency: int = 2,
    pool: str = "prefork",
    extra_args: list[str] | None = None,
    ready_timeout: float = 60,
    multiproc: bool = True,
) -> Proc:
    """``multiproc=False`` starts the worker bare, without the start-up script's metrics directory."""
    port = free_port()
    # A node name of its own: two replicas on one machine must not share a control queue.
    argv = [
        "worker",
        queue,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--metrics-port",
        str(port),
        "--hostname",
        f"{queue}-{port}@%h",
    ]
    proc = _spawn(f"worker-{queue}", argv + (extra_args or []), env, log_dir, multiproc=multiproc)
    proc.port = port

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError(f"worker {queue} exited:\n{proc.log_text()[-4000:]}")
        return " ready." in proc.log_text()

    wait_until(ready, ready_timeout, 0.2, f"worker {queue} to be ready")
    return proc


def start_gateway(env: Mapping[str, str], log_dir: Path, *, ready_timeout: float = 30) -> Proc:
    port = free_port()
    proc = _spawn("gateway", ["gateway", "--host", "127.0.0.1", "--port", str(port)], env, log_dir, multiproc=False)
    proc.port = port
    _wait_answering(proc, "gateway", "/healthz", ready_timeout)
    return proc


def _wait_answering(proc: Proc, name: str, path: str, timeout: float) -> None:
    """Until ``proc`` answers 200 on ``path`` of its port; its log's end if it exits first."""

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError(f"{name} exited:\n{proc.log_text()[-4000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{proc.port}{path}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout, 0.2, f"{name} to be ready")


def start_beat(env: Mapping[str, str], log_dir: Path, *, extra_args: list[str] | None = None) -> Proc:
    port = free_port()
    schedule = Path(tempfile.mkdtemp(prefix="beat-")) / "schedule"
    argv = ["beat", "--metrics-port", str(port), "--schedule-file", str(schedule), *(extra_args or [])]
    proc = _spawn("beat", argv, env, log_dir, multiproc=False)
    proc.port = port
    return proc


def start_flower(env: Mapping[str, str], log_dir: Path, *, ready_timeout: float = 60) -> Proc:
    """``ragtasks flower`` as users run it; ready when it answers the chart's probe path.

    Flower's own options (``FLOWER_UNAUTHENTICATED_API``, ``FLOWER_BASIC_AUTH``, ...) go in ``env``:
    the command takes only its port and address."""
    port = free_port()
    proc = _spawn("flower", ["flower", "--port", str(port), "--address", "127.0.0.1"], env, log_dir, multiproc=False)
    proc.port = port
    _wait_answering(proc, "flower", "/healthcheck", ready_timeout)
    return proc


def metrics_text(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def metric_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of samples of ``name`` whose labels include ``labels`` (exposition text format)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if labels and any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            total += sample.value
    return total


def has_series(text: str, name: str, labels: Mapping[str, str]) -> bool:
    """Whether a sample of ``name`` with (at least) these labels is exposed, whatever its value."""
    from prometheus_client.parser import text_string_to_metric_families

    return any(
        sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )
