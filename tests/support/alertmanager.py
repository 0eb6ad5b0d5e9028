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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.server_process import ServerProcess

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


class AlertmanagerServer(ServerProcess):
    """One Alertmanager process running ``config`` (a dict, written as its alertmanager.yml)."""

    name = "alertmanager"
    error = AlertmanagerError

    def __init__(self, config: Mapping[str, Any], *, log_dir: Path | None = None, log_level: str = "info") -> None:
        self.config = dict(config)
        self.log_dir = Path(log_dir) if log_dir is not None else DEFAULT_LOG_DIR
        self.log_level = log_level
        super().__init__()

    @property
    def config_path(self) -> Path:
        if self._dir is None:
            raise AlertmanagerError("not started")
        return self._dir / "alertmanager.yml"

    def binary(self) -> str:
        return alertmanager_binary()

    def write_files(self, directory: Path) -> None:
        (directory / "alertmanager.yml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        (directory / "data").mkdir()

    def argv(self, directory: Path) -> list[str]:
        return [
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            f"--log.level={self.log_level}",
        ]

    def log_file(self, directory: Path) -> Path:
        # Kept after stop(), beside the logs of every other process a test starts.
        return self.log_dir / f"alertmanager-{int(time.time() * 1000)}.log"

    # -- HTTP API -------------------------------------------------------------------------------

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
