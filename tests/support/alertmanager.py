"""A real Alertmanager for tests: Debian's ``prometheus-alertmanager`` binary, not a double.

Pytest-free, like ``tests/support/prometheus.py``::

    config = example_config()  # deploy/alertmanager/alertmanager.yml, as a dict
    with AlertmanagerServer(config, log_dir=LOG_DIR) as am:
        with PrometheusServer([...], rule_files=[rules], alertmanager_url=am.url) as prom:
            ...
            am.wait_for(lambda: am.notifications("webhook") >= 1, timeout=20)

Each instance gets a free port, a temporary config and a temporary data directory (removed on
``stop()``); its log goes to ``log_dir`` (``RAGTASKS_TEST_LOG_DIR``, like every process a test
starts) and stays there. Gossip clustering is off (``--cluster.listen-address=``): a single
instance needs no peers, and two runs on one machine must not fight over port 9094. Install the
binaries with ``make tools`` (scripts/install-prometheus.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DEFAULT_LOG_DIR = Path(os.environ.get("RAGTASKS_TEST_LOG_DIR", "/tmp/ragtasks-test-logs"))


class AlertmanagerError(RuntimeError):
    """Alertmanager (or amtool) is missing, failed to start, or rejected a config."""


def alertmanager_binary() -> str:
    # Debian names the binary prometheus-alertmanager; upstream's tarball and image call it alertmanager.
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path is not None:
            return path
    raise AlertmanagerError("Alertmanager is not installed: run `make tools`")


def amtool_binary() -> str:
    path = shutil.which("amtool")
    if path is None:
        raise AlertmanagerError("amtool is not installed: run `make tools`")
    return path


def example_config() -> dict[str, Any]:
    """The shipped example ``deploy/alertmanager/alertmanager.yml`` as a dict (to adapt in a test)."""
    return dict(yaml.safe_load(EXAMPLE_CONFIG.read_text()))


def check_config(path: Path) -> str:
    """``amtool check-config PATH``; returns its output, raises AlertmanagerError if it fails."""
    result = subprocess.run([amtool_binary(), "check-config", str(path)], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AlertmanagerError(f"amtool check-config {path} failed:\n{output}")
    return output


def route_receivers(path: Path, labels: Mapping[str, str]) -> list[str]:
    """The receivers the routing tree of config ``path`` sends an alert with ``labels`` to
    (``amtool config routes test``), in routing order."""
    argv = [amtool_binary(), "config", "routes", "test", f"--config.file={path}"]
    argv += [f"{k}={v}" for k, v in labels.items()]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise AlertmanagerError(f"amtool config routes test failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip().split(",")


class AlertmanagerServer:
    """One Alertmanager process running ``config`` (a dict, written as its alertmanager.yml)."""

    def __init__(self, config: Mapping[str, Any], *, log_dir: Path | None = None, log_level: str = "info") -> None:
        self.config = dict(config)
        self.log_dir = Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR
        self.log_level = log_level
        self.port = 0
        self.log_path: Path | None = None
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        if self._dir is None:
            raise AlertmanagerError("not started")
        return self._dir / "alertmanager.yml"

    def start(self, timeout: float = 20) -> AlertmanagerServer:
        """Start the process and wait until it is ready (raises with its log if it is not)."""
        binary = alertmanager_binary()
        self._dir = Path(tempfile.mkdtemp(prefix="ragtasks-alertmanager-"))
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        (self._dir / "data").mkdir()
        self.port = free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"alertmanager-{int(time.time() * 1000)}.log"
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.config_path}",
                    f"--storage.path={self._dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                    f"--log.level={self.log_level}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._client = httpx.Client(base_url=self.url, timeout=10)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        """Block until ``/-/ready`` answers 200 (config loaded, API serving)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise AlertmanagerError(f"alertmanager exited with {self._proc.returncode}:\n{self.log()}")
            try:
                if self._http().get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AlertmanagerError(f"alertmanager not ready after {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Alertmanager flushes its state and exits), SIGKILL after ``timeout``; removes
        the config and data directory but keeps the log. Idempotent."""
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

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP API -------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            raise AlertmanagerError("not started")
        return self._client

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds (from Prometheus or anyone)."""
        response = self._http().get("/api/v2/alerts")
        response.raise_for_status()
        return list(response.json())

    def metric(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """Sum of Alertmanager's own ``/metrics`` samples of ``name`` whose labels include ``labels``."""
        from prometheus_client.parser import text_string_to_metric_families

        text = self._http().get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items())
        )

    def notifications(self, integration: str = "webhook") -> tuple[float, float]:
        """(attempted, failed) notifications of ``integration`` so far."""
        labels = {"integration": integration}
        return (
            self.metric("alertmanager_notifications_total", labels),
            self.metric("alertmanager_notifications_failed_total", labels),
        )

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.25) -> Any:
        """Poll until ``predicate()`` returns something truthy and return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"alertmanager condition not met after {timeout}s:\n{self.log()[-2000:]}")
            time.sleep(interval)
