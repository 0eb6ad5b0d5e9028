"""The chart renders the alerter's routes file from `alerter.routes` (issue 14): a ConfigMap mounted
into the alerter's pods only, RAGTASKS_ALERT_ROUTES_FILE pointing at it, and nothing without it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.chart import FULLNAME, ROOT, by_kind, pod_templates, render, worker_deployment

ROUTES_FILE = "/etc/ragtasks/alerter/routes.yaml"


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
    config_map = by_kind(manifests, "ConfigMap")[f"{FULLNAME}-alerter-routes"]
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
    pod = worker_deployment(manifests, "alerter")["spec"]["template"]
    assert _env(pod)["RAGTASKS_ALERT_ROUTES_FILE"] == ROUTES_FILE
    [mount] = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == "alerter-routes"]
    assert mount == {"name": "alerter-routes", "mountPath": str(Path(ROUTES_FILE).parent), "readOnly": True}
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == "alerter-routes"]
    assert volume["configMap"]["name"] == f"{FULLNAME}-alerter-routes"
    assert "checksum/alerter-routes" in pod["metadata"]["annotations"]
    for name, other in pod_templates(manifests):
        if not name.endswith("worker-alerter"):
            assert "RAGTASKS_ALERT_ROUTES_FILE" not in _env(other), name
            assert all(v["name"] != "alerter-routes" for v in other["spec"]["volumes"]), name


def test_a_changed_routes_file_rolls_the_alerter() -> None:
    first = worker_deployment(render(None, "alerter.routes.route.receiver=a"), "alerter")
    second = worker_deployment(render(None, "alerter.routes.route.receiver=b"), "alerter")
    key = "checksum/alerter-routes"
    assert (
        first["spec"]["template"]["metadata"]["annotations"][key]
        != (second["spec"]["template"]["metadata"]["annotations"][key])
    )


def test_no_routes_no_configmap_and_no_variable() -> None:
    manifests = render(None)
    assert f"{FULLNAME}-alerter-routes" not in by_kind(manifests, "ConfigMap")
    pod = worker_deployment(manifests, "alerter")["spec"]["template"]
    assert "RAGTASKS_ALERT_ROUTES_FILE" not in _env(pod)
    assert "checksum/alerter-routes" not in pod["metadata"]["annotations"]
