"""k8s/ragtasks.yaml is what the chart renders from k8s/values.yaml, byte for byte (`make k8s`)."""

from __future__ import annotations

import difflib

from tests.deploy.chart import CHART, ROOT, helm


def test_k8s_manifests_match_the_chart() -> None:
    rendered = helm(
        "template",
        "ragtasks",
        str(CHART.relative_to(ROOT)),
        "--namespace",
        "ragtasks",
        "-f",
        str(ROOT / "k8s" / "values.yaml"),
    ).stdout
    committed = (ROOT / "k8s" / "ragtasks.yaml").read_text()
    if rendered != committed:
        diff = "".join(
            list(difflib.unified_diff(committed.splitlines(True), rendered.splitlines(True), "k8s", "chart"))[:60]
        )
        raise AssertionError(f"k8s/ragtasks.yaml drifted from the chart; run `make k8s`:\n{diff}")


def test_k8s_manifests_hold_no_secret_values() -> None:
    text = (ROOT / "k8s" / "ragtasks.yaml").read_text()
    assert "kind: Secret" not in text
    assert "secretRef:\n                name: ragtasks\n" in text
