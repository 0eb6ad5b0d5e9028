"""A real Prometheus server for tests: the Debian ``prometheus`` binary, not a double.

Pytest-free, so integration tests, benchmarks and scripts can all use it::

    with PrometheusServer(["127.0.0.1:9101"], scrape_interval="1s", rule_files=[RULES]) as prom:
        prom.wait_for(lambda: prom.query('up == 1'), timeout=10)
        prom.query("ragtasks:queue_success_ratio:rate5m")

Each instance gets a free port, a temporary config and a temporary TSDB directory, removed on
``stop()``. Install the binary with ``make tools`` (scripts/install-prometheus.sh). Prometheus
batches service-discovery updates every 5 s, so the first scrape comes about 5 s after start:
wait for it (``wait_for`` on ``targets_health()``) rather than sleeping. With
``alertmanager_url`` (e.g. ``AlertmanagerServer.url`` from tests/support/alertmanager.py) the
instance sends its firing and resolved alerts there (an ``alerting:`` block in its config).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules.yaml"


class PrometheusError(RuntimeError):
    """Prometheus failed to start, or answered a query with an error."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise PrometheusError("prometheus is not installed: run `make tools`")
    return path


class PrometheusServer:
    """One Prometheus process scraping ``targets`` (``host:port``) as job ``job``."""

    def __init__(
        self,
        targets: Sequence[str] = (),
        scrape_interval: str = "1s",
        *,
        rule_files: Iterable[Path] = (),
        evaluation_interval: str | None = None,
        job: str = "ragtasks",
        metrics_path: str = "/metrics",
        alertmanager_url: str | None = None,
    ) -> None:
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval or scrape_interval
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.job = job
        self.metrics_path = metrics_path
        if alertmanager_url is not None and not urlsplit(alertmanager_url).netloc:
            raise ValueError(f"alertmanager_url must be a URL like http://127.0.0.1:9093, not {alertmanager_url!r}")
        self.alertmanager_url = alertmanager_url
        self.port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        if self._dir is None:
            raise PrometheusError("not started")
        return self._dir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        """The prometheus.yml this instance runs with."""
        scrape: dict[str, Any] = {
            "job_name": self.job,
            "metrics_path": self.metrics_path,
            "static_configs": [{"targets": self.targets}] if self.targets else [],
        }
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [scrape],
        }
        if self.alertmanager_url:
            url = urlsplit(self.alertmanager_url)
            alertmanager: dict[str, Any] = {
                "scheme": url.scheme or "http",
                "static_configs": [{"targets": [url.netloc]}],
            }
            if url.path.strip("/"):
                alertmanager["path_prefix"] = url.path
            config["alerting"] = {"alertmanagers": [alertmanager]}
        return config

    def start(self, timeout: float = 20) -> PrometheusServer:
        """Start the process and wait until it is ready (raises with its log if it is not)."""
        binary = prometheus_binary()
        self._dir = Path(tempfile.mkdtemp(prefix="ragtasks-prometheus-"))
        config_path = self._dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        (self._dir / "data").mkdir()
        self.port = _free_port()
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self._dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
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
        """Block until ``/-/ready`` answers 200 (config and rules loaded, TSDB open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}:\n{self.log()}")
            try:
                if self._http().get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 10) -> None:
        """Terminate the process (SIGKILL after ``timeout``) and remove its files. Idempotent."""
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
            return self.log_path.read_text(errors="replace")
        except (OSError, PrometheusError):
            return ""

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP API -------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            raise PrometheusError("not started")
        return self._client

    def api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; raise PrometheusError on an error status."""
        response = self._http().get(f"/api/v1/{path}", params=params)
        try:
            body = response.json()
        except ValueError as exc:
            raise PrometheusError(f"{path}: HTTP {response.status_code}: {response.text[:200]}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, time_: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns ``data.result``, a scalar or string as ``[{"value": [t, v]}]``."""
        params: dict[str, Any] = {"query": expr}
        if time_ is not None:
            params["time"] = time_
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def query_range(self, expr: str, start: float, end: float, step: float | str = 1) -> list[dict[str, Any]]:
        """Range query; returns ``data.result`` (one entry per series, ``values`` in each)."""
        return self.api("query_range", {"query": expr, "start": start, "end": end, "step": step})["result"]

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"{expr!r} returned {len(result)} series, expected one")
        return float(result[0]["value"][1])

    def targets_health(self) -> dict[str, str]:
        """``instance -> health`` (``up``/``down``/``unknown``) of the active scrape targets."""
        active = self.api("targets", {"state": "active"})["activeTargets"]
        return {t["labels"]["instance"]: t["health"] for t in active}

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule (recording and alerting) with its ``health`` and ``lastError``."""
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.25) -> Any:
        """Poll until ``predicate()`` returns something truthy and return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"prometheus condition not met after {timeout}s")
            time.sleep(interval)
