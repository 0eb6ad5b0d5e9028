"""deploy/prometheus/rules.yaml: promtool check + unit tests, and that every rule is tested."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragtasks_core.contract import PERIODIC_TASKS
from tests.observability.contract import RULES_FILE, known_names, load_rules, names_in

TESTS_DIR = RULES_FILE.parent / "tests"
RUNBOOK = RULES_FILE.parent / "runbook.md"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make tools` (scripts/install-prometheus.sh)")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, check=False)


def rule_tests() -> list[dict[str, Any]]:
    return [t for f in sorted(TESTS_DIR.glob("*.yaml")) for t in yaml.safe_load(f.read_text())["tests"]]


def test_promtool_check_rules() -> None:
    result = run("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    files = sorted(str(f) for f in TESTS_DIR.glob("*.yaml"))
    assert files
    result = run("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_recording_rule_is_tested() -> None:
    tested = {t["expr"] for case in rule_tests() for t in case.get("promql_expr_test", [])}
    records = {r["record"] for r in load_rules() if "record" in r}
    assert records
    assert records - {name for expr in tested for name in names_in(expr)} == set()


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in rule_tests():
        for t in case.get("alert_rule_test", []):
            (firing if t.get("exp_alerts") else quiet).add(t["alertname"])
    alerts = {r["alert"] for r in load_rules() if "alert" in r}
    assert alerts - firing == set(), "never tested firing"
    assert alerts - quiet == set(), "never tested not firing"


@pytest.mark.parametrize("rule", [r for r in load_rules() if "alert" in r], ids=lambda r: r["alert"])
def test_alert_has_severity_annotations_and_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    path, _, anchor = annotations["runbook_url"].partition("#")
    assert path == str(RUNBOOK.relative_to(RULES_FILE.parents[2]))
    headings = {line[3:].strip().lower() for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    assert anchor == rule["alert"].lower() and anchor in headings


def test_rules_reference_only_contract_metrics() -> None:
    known = known_names()
    unknown = {name for rule in load_rules() for name in names_in(rule["expr"])} - known
    assert unknown == set()


def test_rules_file_is_the_one_tests_load() -> None:
    # The unit tests must exercise this file, not a copy.
    for f in TESTS_DIR.glob("*.yaml"):
        files = yaml.safe_load(f.read_text())["rule_files"]
        assert [(f.parent / p).resolve() for p in files] == [Path(RULES_FILE).resolve()], f.name


def test_local_prometheus_config_is_valid() -> None:
    result = run("check", "config", str(RULES_FILE.parent / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_periodic_task_is_watched_for_a_missing_success() -> None:
    [missing] = [r for r in load_rules() if r.get("alert") == "RagtasksPeriodicTaskMissing"]
    watched = set(re.findall(r'task="([^"]+)"', missing["expr"]))
    assert watched == set(PERIODIC_TASKS)
