"""The chart's copies of the Prometheus rules and Grafana dashboards equal their sources in
deploy/; `make chart-sync` copies them."""

from __future__ import annotations

import json

import yaml

from tests.deploy.chart import CHART, ROOT

RULES_SOURCE = ROOT / "deploy" / "prometheus" / "rules.yaml"
DASHBOARDS_SOURCE = ROOT / "deploy" / "grafana" / "dashboards"


def test_rules_in_sync() -> None:
    chart_rules = CHART / "files" / "prometheus-rules.yaml"
    groups = yaml.safe_load(chart_rules.read_text())["groups"]
    assert groups and all(group["rules"] for group in groups)
    assert chart_rules.read_text() == RULES_SOURCE.read_text(), "run `make chart-sync`"


def test_dashboards_in_sync() -> None:
    chart_dashboards = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    assert chart_dashboards
    for name, text in chart_dashboards.items():
        assert json.loads(text)["panels"], name
    sources = {p.name: p.read_text() for p in DASHBOARDS_SOURCE.glob("*.json")}
    assert set(sources) == {"ragtasks-overview.json", "ragtasks-worker.json"}
    assert chart_dashboards == sources, "run `make chart-sync`"
