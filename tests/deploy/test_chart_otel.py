"""The chart passes the standard OTEL_* variables from `otel` to every pod, and nothing without an
endpoint (tracing off): issue 18, docs/tracing.md."""

from __future__ import annotations

from typing import Any

from tests.deploy.chart import CHART, helm, pod_templates, render

ENDPOINT = "http://otel-collector.observability:4318"


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}


def test_every_pod_gets_the_otel_variables_from_values() -> None:
    pods = list(
        pod_templates(
            render(
                None,
                f"otel.endpoint={ENDPOINT}",
                "otel.sampler=parentbased_traceidratio",
                "otel.samplerArg=0.25",
                "flower.enabled=true",
            )
        )
    )
    assert {name.rsplit("-", 1)[-1] for name, _ in pods} >= {"gateway", "summarizer", "evaluator", "alerter", "beat"}
    for name, pod in pods:
        env = _env(pod)
        assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == ENDPOINT, name
        assert env.get("OTEL_TRACES_SAMPLER") == "parentbased_traceidratio", name
        assert env.get("OTEL_TRACES_SAMPLER_ARG") == "0.25", name


def test_no_endpoint_means_no_otel_variable() -> None:
    for name, pod in pod_templates(render(None, "flower.enabled=true")):
        assert not [k for k in _env(pod) if k.startswith("OTEL_")], name


def test_sampler_arg_is_left_out_when_empty() -> None:
    for name, pod in pod_templates(render(None, f"otel.endpoint={ENDPOINT}")):
        env = _env(pod)
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on", name
        assert "OTEL_TRACES_SAMPLER_ARG" not in env, name


def test_schema_refuses_an_endpoint_without_scheme_and_an_unknown_sampler() -> None:
    for bad in ("otel.endpoint=collector:4318", "otel.sampler=sometimes"):
        proc = helm("template", "rt", str(CHART), "--set", bad, check=False)
        assert proc.returncode != 0 and "otel" in proc.stderr, (bad, proc.stderr)
