"""What the chart exposes outside the cluster (issue 15): the Ingress serves /v1 and /healthz only."""

from __future__ import annotations

from tests.deploy.chart import CHART, FULLNAME, by_kind, helm, render

CI = CHART / "ci"


def _paths(manifests: list[dict]) -> list[tuple[str, str]]:
    ingress = by_kind(manifests, "Ingress")[f"{FULLNAME}-gateway"]
    return [(p["path"], p["pathType"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]


def test_ingress_serves_only_the_api_and_liveness() -> None:
    # full-values.yaml names a host without paths: it gets exactly the two.
    assert _paths(render(CI / "full-values.yaml")) == [("/v1", "Prefix"), ("/healthz", "Exact")]
    assert _paths(render(None, "gateway.ingress.enabled=true")) == [("/v1", "Prefix"), ("/healthz", "Exact")]


def test_ingress_refuses_docs_metrics_and_the_root() -> None:
    for path in ("/", "/docs", "/openapi.json", "/metrics", "/v10", "/readyz"):
        proc = helm(
            "template",
            "rt",
            str(CHART),
            "--set",
            "gateway.ingress.enabled=true",
            "--set",
            "gateway.ingress.hosts[0].host=api.example.test",
            "--set",
            f"gateway.ingress.hosts[0].paths[0].path={path}",
            "--set",
            "gateway.ingress.hosts[0].paths[0].pathType=Prefix",
            check=False,
        )
        assert proc.returncode != 0, path
        assert f'path "{path}" is not served' in proc.stderr


def test_ingress_accepts_a_narrower_api_path() -> None:
    manifests = render(
        None,
        "gateway.ingress.enabled=true",
        "gateway.ingress.hosts[0].host=api.example.test",
        "gateway.ingress.hosts[0].paths[0].path=/v1/sessions",
        "gateway.ingress.hosts[0].paths[0].pathType=Prefix",
    )
    assert _paths(manifests) == [("/v1/sessions", "Prefix")]


def test_metrics_bind_the_pod_ip_even_in_development() -> None:
    # Development's default is loopback; in a pod Prometheus and the kubelet come in on the pod IP.
    for manifests in (render(), render(None, "config.environment=development")):
        [configmap] = [m for m in manifests if m["kind"] == "ConfigMap" and "RAGTASKS_TIMEZONE" in m["data"]]
        assert configmap["data"]["RAGTASKS_METRICS_HOST"] == "0.0.0.0"
