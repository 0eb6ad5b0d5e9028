"""`helm lint --strict` for every CI scenario, and the values schema's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.chart import CHART, SCENARIOS, helm


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 4, SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_lint_strict(scenario: Path) -> None:
    proc = helm("lint", "--strict", str(CHART), "-f", str(scenario), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (["workers.reporter.enabled=true"], "Additional property reporter is not allowed"),
        (["workers.evaluator.concurrency=four"], "workers.evaluator.concurrency"),
        (["workers.evaluator.concurrency=0"], "workers.evaluator.concurrency"),
        (["workers.summarizer.pool=gevent"], "workers.summarizer.pool"),
        (["workers.alerter.autoscaling.type=vpa"], "workers.alerter.autoscaling.type"),
        (["workers.alerter.autoscaling.keda.protocol=grpc"], "protocol"),
        (["beat.replicas=2"], "Additional property replicas is not allowed"),
        (["gateway.replicas=-1"], "gateway.replicas"),
        (["config.environment=staging"], "config.environment"),
        (["config.llmRateLimit=lots"], "config.llmRateLimit"),
    ],
)
def test_schema_rejects(sets: list[str], complaint: str) -> None:
    args = [arg for s in sets for arg in ("--set", s)]
    proc = helm("template", "rt", str(CHART), *args, check=False)
    assert proc.returncode != 0, f"{sets} was accepted"
    assert complaint in proc.stderr, proc.stderr


def test_schema_accepts_set_on_one_worker() -> None:
    proc = helm("template", "rt", str(CHART), "--set", "workers.evaluator.concurrency=4", check=False)
    assert proc.returncode == 0, proc.stderr
