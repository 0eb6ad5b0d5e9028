"""compose.yaml, checked structurally (no Docker engine here): every role of the one image, each
worker on its own queue and metrics port, and Prometheus scraping exactly those ports."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.chart import ROOT, WORKERS

PORTS = {"summarizer": "9101", "evaluator": "9102", "alerter": "9103"}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_services() -> None:
    services = _compose()["services"]
    expected = {"rabbitmq", "redis", "mongodb", "gateway", "beat", "flower", "prometheus", "grafana"}
    assert expected | {f"worker-{w}" for w in WORKERS} == set(services)
    assert services["mongodb"]["image"] == "mongo:7"
    assert services["rabbitmq"]["image"].endswith("-management")
    ragtasks = [name for name, s in services.items() if s.get("build")]
    assert len(ragtasks) == 6 and len({services[n]["image"] for n in ragtasks}) == 1
    for name in ragtasks:
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"], name


def test_each_worker_consumes_its_own_queue() -> None:
    services = _compose()["services"]
    for worker in WORKERS:
        service = services[f"worker-{worker}"]
        command = service["command"]
        assert command[:2] == ["worker", worker]
        assert command[command.index("--metrics-port") + 1] == PORTS[worker]
        assert f":{PORTS[worker]}/healthz" in " ".join(service["healthcheck"]["test"])
    assert services["beat"]["command"] == ["beat"]
    assert "deploy" not in services["beat"]  # never replicated


def test_prometheus_scrapes_every_role_and_loads_the_rules() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]}
    for worker in WORKERS:
        assert targets[f"ragtasks-worker-{worker}"] == f"worker-{worker}:{PORTS[worker]}"
    assert targets["ragtasks-gateway"] == "gateway:8000"
    assert targets["ragtasks-beat"] == "beat:9104"
    volumes = " ".join(_compose()["services"]["prometheus"]["volumes"])
    assert "./deploy/prometheus/rules.yaml:/etc/prometheus/rules/" in volumes
    grafana = " ".join(_compose()["services"]["grafana"]["volumes"])
    assert "./deploy/grafana/dashboards:" in grafana
