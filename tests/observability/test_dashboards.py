"""Grafana dashboards: committed JSON == generator output, and every panel's expr runs in a real
Prometheus (with the rules loaded, so recording-rule names resolve and rules evaluate cleanly)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.observability.contract import ROOT, RULES_FILE, known_names, load_rules, names_in
from tests.support.prometheus import PrometheusError, PrometheusServer

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
# What Grafana substitutes before the query reaches Prometheus.
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "${queue}": "summarizer",
    "$queue": "summarizer",
}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ragtasks_grafana_generate", GRAFANA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def exprs() -> list[tuple[str, str]]:
    """(``dashboard / panel``, expr) for every target, Grafana variables substituted."""
    out = []
    for name, dashboard in committed().items():
        for panel in panels(dashboard):
            for target in panel["targets"]:
                expr = target["expr"]
                for var, value in SUBSTITUTIONS.items():
                    expr = expr.replace(var, value)
                out.append((f"{name} / {panel['title']} / {target['refId']}", expr))
    return out


def test_committed_dashboards_match_generator() -> None:
    rendered = load_generator().render()
    assert sorted(rendered) == ["ragtasks-overview.json", "ragtasks-worker.json"]
    on_disk = {p.name: p.read_text() for p in DASHBOARDS.glob("*.json")}
    assert on_disk == rendered, "drift: run .venv/bin/python deploy/grafana/generate.py"


def test_dashboard_shape() -> None:
    dashboards = committed()
    assert dashboards["ragtasks-overview.json"]["uid"] == "ragtasks-overview"
    assert dashboards["ragtasks-worker.json"]["uid"] == "ragtasks-worker"
    for name, dashboard in dashboards.items():
        assert dashboard["schemaVersion"] == 39, name
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
    worker = dashboards["ragtasks-worker.json"]
    assert "queue" in {v["name"] for v in worker["templating"]["list"]}
    assert all("$queue" in t["expr"] or "queue" not in t["expr"] for p in panels(worker) for t in p["targets"])


def test_every_panel_has_a_promql_expr_on_the_datasource_variable() -> None:
    for name, dashboard in committed().items():
        assert panels(dashboard), name
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip(), panel["title"]
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_panels_reference_only_contract_metrics() -> None:
    known = known_names()
    unknown = {f"{where}: {n}" for where, expr in exprs() for n in names_in(expr) - known}
    assert unknown == set()


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    with PrometheusServer([], scrape_interval="1s", rule_files=[RULES_FILE]) as prom:
        yield prom


def test_every_expr_runs_in_prometheus(prometheus: PrometheusServer) -> None:
    failures = []
    for where, expr in exprs():
        assert "$" not in expr, f"{where}: unsubstituted variable in {expr!r}"
        try:
            prometheus.query(expr)
        except PrometheusError as exc:
            failures.append(f"{where}: {exc}")
    assert failures == []


def test_variable_queries_run_in_prometheus(prometheus: PrometheusServer) -> None:
    for dashboard in committed().values():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["query"]["query"])
            assert match, variable["query"]
            metric, label = match.groups()
            prometheus.query(f"group by ({label}) ({metric})")


def test_rules_load_and_evaluate_in_prometheus(prometheus: PrometheusServer) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        rules = prometheus.rules()
        # lastEvaluation is Go's zero time ("0001-01-01T00:00:00Z") until the first evaluation
        return rules if all(not r["lastEvaluation"].startswith("0001") for r in rules) else None

    rules = prometheus.wait_for(evaluated, timeout=15)
    assert sorted(r["name"] for r in rules) == sorted(r.get("record") or r["alert"] for r in load_rules())
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


def test_provisioning_points_at_the_dashboards() -> None:
    provisioning = GRAFANA / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources.yaml").read_text())["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]
    assert datasources[0]["isDefault"] is True
    (provider,) = yaml.safe_load((provisioning / "dashboards.yaml").read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "${RAGTASKS_DASHBOARDS_DIR}"


def test_the_docs_show_a_rendered_overview() -> None:
    # Rendered from a real test run's data (see test_prometheus_stack.py, RAGTASKS_DASHBOARD_PNG).
    picture = ROOT / "docs" / "dashboard-overview.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    assert "](dashboard-overview.png)" in (ROOT / "docs" / "observability.md").read_text()


# What the observability issue asks the dashboards to show, and the series that show it.
REQUIRED_PANELS = {
    "throughput": r"rate\(ragtasks_tasks_total\{(queue=\"\$queue\"\}|outcome=~\"success\|failure)",
    "success ratio": r"ragtasks:queue_success_ratio:rate5m|ragtasks:task_success_ratio:rate5m",
    "p50 duration": r"histogram_quantile\(0\.5, .*ragtasks_task_duration_seconds_bucket",
    "p95 duration": r"histogram_quantile\(0\.95, .*ragtasks_task_duration_seconds_bucket",
    "p99 duration": r"histogram_quantile\(0\.99, .*ragtasks_task_duration_seconds_bucket",
    "queue wait": r"ragtasks_task_queue_wait_seconds_bucket",
    "backlog": r"ragtasks_queue_messages",
    "retries": r"ragtasks_tasks_total\{.*outcome=\"retry\"\}",
    "LLM tokens": r"ragtasks_llm_tokens_total",
    "LLM errors": r"ragtasks:llm_error_ratio|ragtasks_llm_requests_total",
    "recall trend": r"ragtasks_eval_hit_rate|ragtasks:eval_hit_rate",
    "alerts": r"ragtasks_alerts_total",
}


@pytest.mark.parametrize("name", ["ragtasks-overview.json", "ragtasks-worker.json"])
def test_every_required_panel_is_on_the_dashboard(name: str) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / name).read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    missing = [what for what, pattern in REQUIRED_PANELS.items() if not any(re.search(pattern, q) for q in queries)]
    assert missing == [], missing
