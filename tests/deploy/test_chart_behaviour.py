"""What the chart promises: each worker on its own queue with its own concurrency, KEDA on the
right queue, one beat, disabled workers leave nothing behind, nothing runs as root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ragtasks_cli.main import build_parser
from ragtasks_cli.worker import celery_worker_argv
from ragtasks_core.settings import Settings
from tests.deploy.chart import (
    CHART,
    FULLNAME,
    SCENARIOS,
    WORKERS,
    Manifest,
    by_kind,
    flag,
    pod_templates,
    render,
    worker_deployment,
)

CI = CHART / "ci"
EVERYTHING_ON = (
    "networkPolicy.enabled=true",
    "metrics.podMonitor.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "flower.enabled=true",
)


def _args(deployment: Manifest) -> list[str]:
    return [str(a) for a in deployment["spec"]["template"]["spec"]["containers"][0]["args"]]


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_consumes_its_own_queue_with_its_own_concurrency(worker: str) -> None:
    concurrency = {"summarizer": 3, "evaluator": 5, "alerter": 7}
    sets = [f"workers.{w}.concurrency={n}" for w, n in concurrency.items()]
    sets += [f"workers.{worker}.pool=threads", f"workers.{worker}.prefetchMultiplier=4"]
    deployment = worker_deployment(render(None, *sets), worker)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = _args(deployment)
    assert container["command"] == ["/usr/local/bin/docker-entrypoint.sh"]
    assert args[:2] == ["worker", worker]
    assert flag(args, "--concurrency") == str(concurrency[worker])
    assert flag(args, "--pool") == "threads"
    assert flag(args, "--prefetch-multiplier") == "4"
    port = {"summarizer": "9101", "evaluator": "9102", "alerter": "9103"}[worker]
    assert flag(args, "--metrics-port") == port
    assert container["ports"] == [{"name": "metrics", "containerPort": int(port), "protocol": "TCP"}]
    assert deployment["metadata"]["labels"]["ragtasks.io/queue"] == worker


def test_worker_liveness_is_a_cheap_http_check() -> None:
    for worker in WORKERS:
        container = worker_deployment(render(), worker)["spec"]["template"]["spec"]["containers"][0]
        probe = container["livenessProbe"]
        assert probe["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert probe["periodSeconds"] >= 10
        assert "exec" not in probe
        assert "readinessProbe" not in container or "exec" not in container["readinessProbe"]


def _hard_time_limit(manifests: list[Manifest]) -> int:
    """The hard task time limit the workers run with: the ConfigMap's value, else the settings default."""
    data = by_kind(manifests, "ConfigMap")[FULLNAME]["data"]
    default = Settings.model_fields["task_time_limit_seconds"].default  # Celery's task_time_limit
    return int(data.get("RAGTASKS_TASK_TIME_LIMIT_SECONDS", default))


def test_worker_grace_period_allows_warm_shutdown() -> None:
    manifests = render()
    hard_limit = _hard_time_limit(manifests)
    assert hard_limit >= Settings.model_fields["task_soft_time_limit_seconds"].default
    for worker in WORKERS:
        spec = worker_deployment(manifests, worker)["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] > hard_limit, worker


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_max_tasks_per_child_reaches_celery(worker: str) -> None:
    manifests = render(None, f"workers.{worker}.maxTasksPerChild=37")
    args = _args(worker_deployment(manifests, worker))
    assert flag(args, "--max-tasks-per-child") == "37"
    # What the image's CLI makes of that command line: Celery's own flag.
    assert "--max-tasks-per-child=37" in celery_worker_argv(build_parser().parse_args(args), Settings.model_construct())
    for other in set(WORKERS) - {worker}:
        assert flag(_args(worker_deployment(manifests, other)), "--max-tasks-per-child") == "1000"


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_extra_env_reaches_the_container(worker: str) -> None:
    sets = (
        f"workers.{worker}.extraEnv[0].name=RAGTASKS_LLM_MAX_RETRIES",
        f"workers.{worker}.extraEnv[0].value=seven",
        f"workers.{worker}.extraEnv[1].name=FROM_SECRET",
        f"workers.{worker}.extraEnv[1].valueFrom.secretKeyRef.name=other",
        f"workers.{worker}.extraEnv[1].valueFrom.secretKeyRef.key=token",
    )
    manifests = render(None, *sets)
    env = {
        e["name"]: e for e in worker_deployment(manifests, worker)["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["RAGTASKS_LLM_MAX_RETRIES"] == {"name": "RAGTASKS_LLM_MAX_RETRIES", "value": "seven"}
    assert env["FROM_SECRET"]["valueFrom"] == {"secretKeyRef": {"name": "other", "key": "token"}}
    assert "PROMETHEUS_MULTIPROC_DIR" in env  # added to, not replaced
    for other in set(WORKERS) - {worker}:
        other_env = worker_deployment(manifests, other)["spec"]["template"]["spec"]["containers"][0]["env"]
        assert "RAGTASKS_LLM_MAX_RETRIES" not in {e["name"] for e in other_env}


SCHEDULING = {
    "nodeSelector": {"pool": "llm", "kubernetes.io/arch": "amd64"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "worker-x"}},
                    },
                }
            ]
        }
    },
}


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_scheduling_reaches_the_pod(worker: str, tmp_path: Path) -> None:
    values = tmp_path / "scheduling.yaml"
    values.write_text(yaml.safe_dump({"workers": {worker: SCHEDULING}}))
    manifests = render(values)
    spec = worker_deployment(manifests, worker)["spec"]["template"]["spec"]
    for key, expected in SCHEDULING.items():
        assert spec[key] == expected, key
    for other in set(WORKERS) - {worker}:
        other_spec = worker_deployment(manifests, other)["spec"]["template"]["spec"]
        assert not set(SCHEDULING) & set(other_spec), other


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_grace_period_can_be_overridden(worker: str) -> None:
    manifests = render(None, f"workers.{worker}.terminationGracePeriodSeconds=1234")
    assert worker_deployment(manifests, worker)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 1234
    for other in set(WORKERS) - {worker}:
        spec = worker_deployment(manifests, other)["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] == 720, other


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_pdb_can_be_disabled(worker: str) -> None:
    name = f"{FULLNAME}-worker-{worker}"
    assert by_kind(render(), "PodDisruptionBudget")[name]["spec"]["maxUnavailable"] == 1
    pdbs = by_kind(render(None, f"workers.{worker}.podDisruptionBudget.enabled=false"), "PodDisruptionBudget")
    assert name not in pdbs
    assert {f"{FULLNAME}-worker-{w}" for w in set(WORKERS) - {worker}} <= set(pdbs)


def test_beat_metrics_port_reaches_the_process() -> None:
    beat = by_kind(render(None, "beat.metricsPort=9200"), "Deployment")[f"{FULLNAME}-beat"]
    container = beat["spec"]["template"]["spec"]["containers"][0]
    args = _args(beat)
    assert args[0] == "beat"
    assert "--metrics-port=9200" in args or flag(args, "--metrics-port") == "9200"
    assert build_parser().parse_args(args).metrics_port == 9200  # what `ragtasks beat` listens on
    assert container["ports"] == [{"name": "metrics", "containerPort": 9200, "protocol": "TCP"}]
    probe_port = container["livenessProbe"]["httpGet"]["port"]
    assert probe_port in (9200, "metrics")  # a named port resolves to the containerPort above
    # The default too: the process, the port and the probe agree.
    default = by_kind(render(), "Deployment")[f"{FULLNAME}-beat"]
    assert flag(_args(default), "--metrics-port") == "9104"
    assert default["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 9104


MANAGEMENT_ENV = "RAGTASKS_" + "rabbitmq_management_url".upper()


def test_management_url_env_name_is_the_settings_field() -> None:
    assert "rabbitmq_management_url" in Settings.model_fields
    assert Settings.model_config["env_prefix"] == "RAGTASKS_"


@pytest.mark.parametrize(
    ("scenario", "secret"),
    [
        (None, FULLNAME),
        (CI / "keda-values.yaml", FULLNAME),
        (CI / "existing-secret-values.yaml", "ragtasks-existing"),
    ],
    ids=["own-secret", "keda", "existing-secret"],
)
def test_gateway_and_flower_get_the_management_url(scenario: Path | None, secret: str) -> None:
    manifests = render(scenario, "flower.enabled=true")
    deployments = by_kind(manifests, "Deployment")
    for component in ("gateway", "flower"):
        container = deployments[f"{FULLNAME}-{component}"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        ref = env[MANAGEMENT_ENV]["valueFrom"]["secretKeyRef"]
        # The same key KEDA reads, from the same Secret every other setting comes from; optional, so
        # a Secret without it leaves the settings' default (broker host, port 15672).
        assert ref == {"name": secret, "key": "RABBITMQ_MANAGEMENT_URL", "optional": True}, component
        (secret_ref,) = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
        assert secret_ref == secret
    for name, template in pod_templates(manifests):
        if not name.endswith(("-gateway", "-flower")):  # workers and beat never read queue metrics
            assert MANAGEMENT_ENV not in {e["name"] for e in template["spec"]["containers"][0]["env"]}, name
    for auth in by_kind(manifests, "TriggerAuthentication").values():
        assert auth["spec"]["secretTargetRef"] == [
            {"parameter": "host", "name": secret, "key": "RABBITMQ_MANAGEMENT_URL"}
        ]


def test_management_url_value_lands_in_the_key_the_pods_read() -> None:
    url = "http://u:p@mq:15672/"
    manifests = render(None, f"secrets.rabbitmqManagementUrl={url}")
    assert by_kind(manifests, "Secret")[FULLNAME]["stringData"] == {"RABBITMQ_MANAGEMENT_URL": url}
    gateway = by_kind(manifests, "Deployment")[f"{FULLNAME}-gateway"]
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env[MANAGEMENT_ENV]["valueFrom"]["secretKeyRef"]["key"] == "RABBITMQ_MANAGEMENT_URL"


def test_gateway_probes() -> None:
    gateway = by_kind(render(), "Deployment")[f"{FULLNAME}-gateway"]
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"][0] == "gateway"


def test_keda_scaled_objects_point_at_their_own_queue() -> None:
    manifests = render(CI / "keda-values.yaml")
    scaled = by_kind(manifests, "ScaledObject")
    deployments = by_kind(manifests, "Deployment")
    assert set(scaled) == {f"{FULLNAME}-worker-{w}" for w in WORKERS}
    for worker in WORKERS:
        name = f"{FULLNAME}-worker-{worker}"
        obj = scaled[name]["spec"]
        assert obj["scaleTargetRef"]["name"] == name and name in deployments
        (trigger,) = obj["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == worker
        assert trigger["metadata"]["protocol"] == "http"  # counts unacknowledged messages too
        assert trigger["metadata"]["mode"] == "QueueLength"
        # KEDA owns the replica count: the Deployment must not fight it.
        assert "replicas" not in deployments[name]["spec"]
    assert scaled[f"{FULLNAME}-worker-summarizer"]["spec"]["maxReplicaCount"] == 8
    assert scaled[f"{FULLNAME}-worker-evaluator"]["spec"]["minReplicaCount"] == 0
    (auth,) = by_kind(manifests, "TriggerAuthentication").values()
    assert auth["spec"]["secretTargetRef"][0]["key"] == "RABBITMQ_MANAGEMENT_URL"
    assert by_kind(manifests, "Secret")[FULLNAME]["stringData"]["RABBITMQ_MANAGEMENT_URL"]


def test_hpa_alternative() -> None:
    manifests = render(CI / "hpa-values.yaml")
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == {f"{FULLNAME}-gateway", f"{FULLNAME}-worker-summarizer", f"{FULLNAME}-worker-evaluator"}
    assert not by_kind(manifests, "ScaledObject")
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == name


@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_beat_is_a_singleton(scenario: Path | None) -> None:
    manifests = render(scenario)
    beat = by_kind(manifests, "Deployment")[f"{FULLNAME}-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for obj in by_kind(manifests, kind).values():
            assert obj["spec"]["scaleTargetRef"]["name"] != beat["metadata"]["name"]


def test_beat_replicas_cannot_be_set() -> None:
    # The schema refuses the key (test_chart_lint); even past the schema nothing reads it.
    template = (CHART / "templates" / "beat" / "deployment.yaml").read_text()
    assert "replicas: 1\n" in template and ".Values.beat.replicas" not in template


def _mentions_worker(obj: Any, worker: str) -> bool:
    if isinstance(obj, dict):
        return any(_mentions_worker(k, worker) or _mentions_worker(v, worker) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_mentions_worker(v, worker) for v in obj)
    return isinstance(obj, str) and f"worker-{worker}" in obj


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("autoscaler", ["keda", "hpa"])
def test_disabling_a_worker_removes_all_its_objects(worker: str, autoscaler: str) -> None:
    on = [f"workers.{w}.autoscaling.enabled=true" for w in WORKERS]
    on += [f"workers.{w}.autoscaling.type={autoscaler}" for w in WORKERS]
    enabled = render(None, *EVERYTHING_ON, *on)
    disabled = render(None, *EVERYTHING_ON, *on, f"workers.{worker}.enabled=false")
    assert sum(_mentions_worker(m, worker) for m in enabled) >= 4  # Deployment, PDB, scaler, NetworkPolicy
    leftovers = [f"{m['kind']}/{m['metadata']['name']}" for m in disabled if _mentions_worker(m, worker)]
    assert leftovers == []
    for other in set(WORKERS) - {worker}:
        worker_deployment(disabled, other)


def test_disabling_every_keda_worker_drops_the_trigger_authentication() -> None:
    sets = [f"workers.{w}.autoscaling.enabled=true" for w in WORKERS]
    assert by_kind(render(None, *sets), "TriggerAuthentication")
    sets += [f"workers.{w}.enabled=false" for w in WORKERS]
    assert not by_kind(render(None, *sets), "TriggerAuthentication")


@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_no_container_runs_as_root(scenario: Path | None) -> None:
    templates = list(pod_templates(render(scenario)))
    assert templates
    for name, template in templates:
        spec = template["spec"]
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False, name
        mounts_by_volume = {v["name"]: v for v in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc.get("runAsUser", pod_sc["runAsUser"]) != 0, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert not sc.get("privileged", False), name
            env = {e["name"]: e.get("value") for e in container["env"]}
            multiproc = env["PROMETHEUS_MULTIPROC_DIR"]
            (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == multiproc]
            assert "emptyDir" in mounts_by_volume[mount["name"]], name


@pytest.mark.parametrize("scenario", [None, *SCENARIOS], ids=lambda p: p.name if p else "defaults")
def test_labels_and_selectors(scenario: Path | None) -> None:
    manifests = render(scenario)
    selectors = []
    for m in manifests:
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "ragtasks"
        assert labels["app.kubernetes.io/instance"] == "rt"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        spec = m.get("spec", {})
        selector = spec.get("selector") if m["kind"] != "Service" else {"matchLabels": spec.get("selector")}
        if isinstance(selector, dict):
            assert "helm.sh/chart" not in str(selector), f"{m['kind']}/{m['metadata']['name']}"
            assert "app.kubernetes.io/version" not in str(selector)
        if m["kind"] == "Deployment":
            selectors.append(str(sorted(spec["selector"]["matchLabels"].items())))
            annotations = spec["template"]["metadata"]["annotations"]
            assert "checksum/config" in annotations and "checksum/secret" in annotations
    assert len(selectors) == len(set(selectors)), "two Deployments share a selector"


def test_checksum_follows_config() -> None:
    def checksum(*sets: str) -> str:
        gateway = by_kind(render(None, *sets), "Deployment")[f"{FULLNAME}-gateway"]
        return str(gateway["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum() != checksum("config.logLevel=DEBUG")


def test_secret_or_existing_secret() -> None:
    own = render(None, "secrets.brokerUrl=amqp://u:p@mq:5672//")
    assert by_kind(own, "Secret")[FULLNAME]["stringData"] == {"RAGTASKS_BROKER_URL": "amqp://u:p@mq:5672//"}
    existing = render(CI / "existing-secret-values.yaml")
    assert not by_kind(existing, "Secret")
    for _, template in pod_templates(existing):
        refs = [e["secretRef"]["name"] for e in template["spec"]["containers"][0]["envFrom"] if "secretRef" in e]
        assert refs == ["ragtasks-existing"]


def test_full_scenario_renders_every_optional_object() -> None:
    kinds = {m["kind"] for m in render(CI / "full-values.yaml")}
    assert {"Ingress", "NetworkPolicy", "ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds
    dashboards = [
        m
        for m in render(CI / "full-values.yaml")
        if m["kind"] == "ConfigMap" and m["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert dashboards
    flower = by_kind(render(CI / "full-values.yaml"), "Deployment")[f"{FULLNAME}-flower"]
    assert flower["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "flower",
        "--port",
        "5555",
        "--address",
        "0.0.0.0",
    ]


def test_defaults_keep_extras_off() -> None:
    kinds = {m["kind"] for m in render()}
    assert kinds == {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret", "ServiceAccount"}
    names = set(by_kind(render(), "Deployment"))
    assert names == {f"{FULLNAME}-gateway", f"{FULLNAME}-beat"} | {f"{FULLNAME}-worker-{w}" for w in WORKERS}
