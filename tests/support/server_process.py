"""A server binary a test runs for real (Prometheus, Alertmanager, the Mongo server): the
shared lifecycle.

Each instance gets a temporary directory (config and data, removed on ``stop()``), a free port,
a log file, and waits until it is ready (by default ``/-/ready`` answers 200) before it is handed
out. Subclasses say which binary, which files and which command line, and how to tell it is
ready when it speaks no HTTP.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.support.procs import free_port, wait_until


class ServerProcess:
    name = "server"
    error: type[RuntimeError] = RuntimeError

    def __init__(self) -> None:
        self.port = 0
        self.log_path: Path | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    # -- what a subclass provides ----------------------------------------------------------------

    def binary(self) -> str:
        raise NotImplementedError

    def write_files(self, directory: Path) -> None:
        """Write the config (and make the data directory) the command line refers to."""
        raise NotImplementedError

    def argv(self, directory: Path) -> list[str]:
        """The arguments after the binary; listen on 127.0.0.1:``self.port``."""
        raise NotImplementedError

    def log_file(self, directory: Path) -> Path:
        return directory / f"{self.name}.log"

    def ready(self) -> bool:
        """Whether the server answers yet (called until true, while the process runs)."""
        try:
            return self._http().get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> Self:
        """Start the process and wait until it is ready (raises with its log if it is not)."""
        binary = self.binary()
        self._dir = Path(tempfile.mkdtemp(prefix=f"ragtasks-{self.name}-"))
        self.write_files(self._dir)
        self.port = free_port()
        self.log_path = self.log_file(self._dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [binary, *self.argv(self._dir)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        """Block until ``ready()`` (for Prometheus and Alertmanager: config loaded, API serving)."""
        try:
            wait_until(self._ready, timeout, 0.1, f"{self.name} to be ready")
        except TimeoutError:
            raise self.error(f"{self.name} not ready after {timeout}s:\n{self.log()}") from None

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise self.error(f"{self.name} exited with {self._proc.returncode}:\n{self.log()}")
        return self.ready()

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (SIGKILL after ``timeout``), then remove the temporary directory. Idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path is not None else ""
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _http(self) -> httpx.Client:
        if self._proc is None:
            raise self.error("not started")
        if self._client is None:
            self._client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        return self._client

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.25) -> Any:
        """Poll until ``predicate()`` returns something truthy and return it."""
        return wait_until(predicate, timeout, interval, f"a {self.name} condition", detail=lambda: self.log()[-2000:])
