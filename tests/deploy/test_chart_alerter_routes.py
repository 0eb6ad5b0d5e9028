"""The chart renders the alerter's routes file from `alerter.routes` (issue 14): a ConfigMap mounted
into every worker's pods, RAGTASKS_ALERT_ROUTES_FILE pointing at it, and nothing without it.

Every worker, not the alerter alone: beat's `flush_alerts` goes to the `maintenance` queue, which every
worker consumes, and decides held alerts again only with the routes. Beat only publishes it and the
gateway never runs it, so neither gets the file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.chart import FULLNAME, ROOT, WORKERS, by_kind, pod_templates, render, worker_deployment

ROUTES_FILE = "/etc/ragtasks/alerter/routes.yaml"
VOLUME = "alerter-routes"
CHECKSUM = f"checksum/{VOLUME}"


def _doc_example() -> dict[str, Any]:
    text = (ROOT / "docs" / "alerter.md").read_text(encoding="utf-8")
    found = re.search(r"```yaml\n(.*?)```", text[text.index("<!-- routes-example -->") :], re.DOTALL)
    assert found is not None
    routes: dict[str, Any] = yaml.safe_load(found.group(1))
    return routes


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}


def test_routes_are_rendered_mounted_and_accepted_by_check_config(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"alerter": {"routes": _doc_example()}}, allow_unicode=True), encoding="utf-8")
    manifests = render(values)
    config_map = by_kind(manifests, "ConfigMap")[f"{FULLNAME}-{VOLUME}"]
    rendered = tmp_path / "routes.yaml"
    rendered.write_text(config_map["data"]["routes.yaml"], encoding="utf-8")
    assert yaml.safe_load(rendered.read_text(encoding="utf-8")) == _doc_example()
    check = subprocess.run(
        [sys.executable, "-m", "ragtasks_cli", "alerts", "check-config", str(rendered)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    for worker in WORKERS:
        _assert_mounted(worker_deployment(manifests, worker)["spec"]["template"], worker)
    pods = dict(pod_templates(manifests))
    for component in ("gateway", "beat"):
        pod = pods[f"{FULLNAME}-{component}"]
        assert "RAGTASKS_ALERT_ROUTES_FILE" not in _env(pod), component
        assert all(v["name"] != VOLUME for v in pod["spec"]["volumes"]), component
        assert CHECKSUM not in pod["metadata"]["annotations"], component


def _assert_mounted(pod: dict[str, Any], worker: str) -> None:
    assert _env(pod)["RAGTASKS_ALERT_ROUTES_FILE"] == ROUTES_FILE, worker
    [mount] = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == VOLUME]
    assert mount == {"name": VOLUME, "mountPath": str(Path(ROUTES_FILE).parent), "readOnly": True}, worker
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == VOLUME]
    assert volume["configMap"] == {"name": f"{FULLNAME}-{VOLUME}"}, worker
    assert CHECKSUM in pod["metadata"]["annotations"], worker


def test_the_summarizer_gets_the_routes_file_beside_its_instruction() -> None:
    """Two files in one pod: neither mount, variable nor checksum may displace the other's."""
    manifests = render(None, "alerter.routes.route.receiver=a", "summarizer.prompt=总结")
    pod = worker_deployment(manifests, "summarizer")["spec"]["template"]
    _assert_mounted(pod, "summarizer")
    assert _env(pod)["RAGTASKS_SUMMARY_PROMPT_FILE"] == "/etc/ragtasks/summarizer/prompt.txt"
    assert {v["name"] for v in pod["spec"]["volumes"]} >= {VOLUME, "summarizer-prompt"}
    assert {m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]} >= {VOLUME, "summarizer-prompt"}
    assert "checksum/summarizer-prompt" in pod["metadata"]["annotations"]
    for worker in ("evaluator", "alerter"):
        other = worker_deployment(manifests, worker)["spec"]["template"]
        _assert_mounted(other, worker)
        assert "RAGTASKS_SUMMARY_PROMPT_FILE" not in _env(other), worker


def test_a_changed_routes_file_rolls_every_worker() -> None:
    first = render(None, "alerter.routes.route.receiver=a")
    second = render(None, "alerter.routes.route.receiver=b")
    for worker in WORKERS:
        before = worker_deployment(first, worker)["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
        after = worker_deployment(second, worker)["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
        assert before != after, worker


def test_no_routes_no_configmap_and_no_variable() -> None:
    manifests = render(None)
    assert f"{FULLNAME}-{VOLUME}" not in by_kind(manifests, "ConfigMap")
    for worker in WORKERS:
        pod = worker_deployment(manifests, worker)["spec"]["template"]
        assert "RAGTASKS_ALERT_ROUTES_FILE" not in _env(pod), worker
        assert all(v["name"] != VOLUME for v in pod["spec"]["volumes"]), worker
        assert CHECKSUM not in pod["metadata"]["annotations"], worker


def test_without_the_alerter_no_worker_mounts_the_routes_file() -> None:
    """The ConfigMap is rendered only while the alerter is enabled: no pod may wait on a missing one."""
    manifests = render(None, "alerter.routes.route.receiver=a", "workers.alerter.enabled=false")
    assert f"{FULLNAME}-{VOLUME}" not in by_kind(manifests, "ConfigMap")
    for worker in ("summarizer", "evaluator"):
        pod = worker_deployment(manifests, worker)["spec"]["template"]
        assert all(v["name"] != VOLUME for v in pod["spec"]["volumes"]), worker
