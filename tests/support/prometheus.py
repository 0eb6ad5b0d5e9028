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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules.yaml"


class PrometheusError(RuntimeError):
    """Prometheus failed to start, or answered a query with an error."""


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise PrometheusError("prometheus is not installed: run `make tools`")
    return path


class PrometheusServer(ServerProcess):
    """One Prometheus process scraping ``targets`` (``host:port``) as job ``job``."""

    name = "prometheus"
    error = PrometheusError

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
        super().__init__()

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

    def binary(self) -> str:
        return prometheus_binary()

    def write_files(self, directory: Path) -> None:
        (directory / "prometheus.yml").write_text(yaml.safe_dump(self.config(), sort_keys=False))
        (directory / "data").mkdir()

    def argv(self, directory: Path) -> list[str]:
        return [
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]

    # -- HTTP API -------------------------------------------------------------------------------

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
