"""compose.yaml, checked structurally (no Docker engine here): every role of the one image, each
worker on its own queue and metrics port, Prometheus scraping exactly those ports, and its alerts
going through Alertmanager to the gateway."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ragtasks_core.settings import DEV_API_KEY
from tests.deploy.chart import ROOT, WORKERS

PORTS = {"summarizer": "9101", "evaluator": "9102", "alerter": "9103"}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_services() -> None:
    services = _compose()["services"]
    expected = {"rabbitmq", "redis", "mongodb", "gateway", "beat", "flower", "prometheus", "alertmanager", "grafana"}
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


def test_prometheus_alerts_go_through_alertmanager_to_the_gateway() -> None:
    compose = _compose()
    services = compose["services"]
    config = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
    assert "alertmanager" in services["prometheus"]["depends_on"]

    alertmanager = services["alertmanager"]
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", alertmanager["image"])  # pinned
    config_flag = next(a for a in alertmanager["command"] if a.startswith("--config.file="))
    mount = f"./deploy/alertmanager/alertmanager.yml:{config_flag.split('=', 1)[1]}:ro"
    assert mount in alertmanager["volumes"]
    assert "127.0.0.1:9093:9093" in alertmanager["ports"]

    # The example's receiver is the compose gateway, with a token the compose gateway accepts.
    example = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    [receiver] = [r for r in example["receivers"] if r["name"] == example["route"]["receiver"]]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"] == "http://gateway:8000/v1/alerts/alertmanager"
    assert services["gateway"]["command"][-2:] == ["--port", "8000"]
    assert webhook["send_resolved"] is True
    token_path = webhook["http_config"]["authorization"]["credentials_file"]
    [secret] = alertmanager["secrets"]
    assert token_path == f"/run/secrets/{secret}"
    default_file = re.fullmatch(r"\$\{\w+:-(.+)\}", compose["secrets"][secret]["file"])
    assert default_file is not None
    token = (ROOT / default_file.group(1)).read_text().strip()
    # The compose gateway runs without RAGTASKS_API_KEYS: in development that means the dev key.
    assert "RAGTASKS_API_KEYS" not in services["gateway"]["environment"]
    assert services["gateway"]["environment"]["RAGTASKS_ENVIRONMENT"] == "development"
    assert token == DEV_API_KEY


def test_published_ports_bind_loopback_only() -> None:
    # guest/guest, password-less Redis and Mongo and the dev key must not face the network.
    published = {name: s["ports"] for name, s in _compose()["services"].items() if s.get("ports")}
    assert {"rabbitmq", "redis", "mongodb", "gateway", "flower"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_metrics_reachable_inside_the_compose_network() -> None:
    # Development binds worker/beat metrics to 127.0.0.1 by default; Prometheus is another container.
    services = _compose()["services"]
    for name in ("beat", *(f"worker-{w}" for w in WORKERS)):
        assert services[name]["environment"]["RAGTASKS_METRICS_HOST"] == "0.0.0.0"
        assert "ports" not in services[name]


def test_image_defaults_to_production() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]
    assert re.search(r"^\s+RAGTASKS_ENVIRONMENT=production\s*$", runtime, re.MULTILINE)
    # What runs the image for development says so itself.
    assert _compose()["services"]["gateway"]["environment"]["RAGTASKS_ENVIRONMENT"] == "development"
    assert (
        "RAGTASKS_ENVIRONMENT=${RAGTASKS_ENVIRONMENT:-development}" in (ROOT / "scripts" / "run-local.sh").read_text()
    )
