"""The chart's layout: one folder per component and one kind per file, shared shapes only in
templates/lib/, and the ConfigMap's settings rendered from the one `config` map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ragtasks_core.settings import Settings
from tests.deploy.chart import CHART, FULLNAME, WORKERS, Manifest, by_kind, render, render_text

TEMPLATES = CHART / "templates"
CI = CHART / "ci"
# The kind each template file's name promises (templates/<folder>/<file>).
KIND_OF_FILE = {
    "deployment.yaml": "Deployment",
    "service.yaml": "Service",
    "ingress.yaml": "Ingress",
    "hpa.yaml": "HorizontalPodAutoscaler",
    "pdb.yaml": "PodDisruptionBudget",
    "networkpolicy.yaml": "NetworkPolicy",
    "scaledobject.yaml": "ScaledObject",
    "triggerauthentication.yaml": "TriggerAuthentication",
    "servicemonitor.yaml": "ServiceMonitor",
    "podmonitor.yaml": "PodMonitor",
    "prometheusrule.yaml": "PrometheusRule",
    "dashboards.yaml": "ConfigMap",
    "configmap.yaml": "ConfigMap",
    "secret.yaml": "Secret",
    "serviceaccount.yaml": "ServiceAccount",
}
# Every optional object on, with both kinds of worker autoscaler and the gateway's HPA.
EVERYTHING = (
    "gateway.autoscaling.enabled=true",
    "workers.summarizer.autoscaling.enabled=true",
    "workers.evaluator.autoscaling.enabled=true",
    "workers.evaluator.autoscaling.type=hpa",
)


def _objects_by_source() -> list[tuple[str, Manifest]]:
    """(template path under templates/, object) for everything the fullest render holds."""
    text = render_text(str(CI / "full-values.yaml"), EVERYTHING)
    pairs: list[tuple[str, Manifest]] = []
    for doc in text.split("\n---\n"):
        source = re.search(r"^# Source: ragtasks/templates/(\S+)$", doc, re.MULTILINE)
        obj = yaml.safe_load(doc)
        if obj:
            assert source, doc[:200]
            pairs.append((source.group(1), obj))
    return pairs


def test_each_template_file_renders_the_one_kind_its_name_says() -> None:
    pairs = _objects_by_source()
    kinds = {m["kind"] for _, m in pairs}
    assert {"HorizontalPodAutoscaler", "ScaledObject", "Ingress", "NetworkPolicy"} <= kinds
    for path, obj in pairs:
        assert obj["kind"] == KIND_OF_FILE[Path(path).name], path
    rendered = {path for path, _ in pairs}
    manifests = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.yaml")}
    assert manifests == rendered, "a template renders nothing even with everything on"


def test_component_folders_hold_only_their_component() -> None:
    for path, obj in _objects_by_source():
        folder = Path(path).parent.name
        component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
        if folder in {"gateway", "beat", "flower"}:
            assert component == folder, path
        elif folder == "workers" and obj["kind"] != "TriggerAuthentication":  # shared by the workers
            assert component in {f"worker-{w}" for w in WORKERS}, path
        else:
            assert component == "common", path


@pytest.mark.parametrize("kind", ["PodDisruptionBudget", "HorizontalPodAutoscaler", "ScaledObject", "NetworkPolicy"])
def test_shared_shapes_are_written_once_in_lib(kind: str) -> None:
    owners = [str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.*") if f"kind: {kind}\n" in p.read_text()]
    assert len(owners) == 1 and owners[0].startswith("lib/"), owners


def _env_name(key: str) -> str:
    """values.yaml's `config.llmTimeoutSeconds` -> RAGTASKS_LLM_TIMEOUT_SECONDS."""
    return "RAGTASKS_" + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def _config_defaults() -> dict[str, object]:
    config = dict(yaml.safe_load((CHART / "values.yaml").read_text())["config"])
    config.pop("extra")
    return config


def _as_variable(value: object) -> str:
    """What the ConfigMap holds for a `config` value (lib/_settings.tpl): lists comma-joined, YAML
    booleans lower case, whole numbers without a decimal point."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rendered_defaults() -> dict[str, str]:
    """The ConfigMap entries of the `config` defaults: an empty value ("") is left out (unset)."""
    return {_env_name(key): _as_variable(value) for key, value in _config_defaults().items() if value != ""}


def test_every_config_variable_is_a_settings_field() -> None:
    # A misspelt `config` key would render a variable the settings never read, silently. What helm
    # renders is checked, not a re-derivation of its snake-casing.
    data = by_kind(render(), "ConfigMap")[FULLNAME]["data"]
    assert len(data) == len(_rendered_defaults()) + len(WORKERS)
    prefix = Settings.model_config["env_prefix"]
    unknown = [name for name in data if name.removeprefix(prefix).lower() not in Settings.model_fields]
    assert unknown == []


def test_config_map_carries_every_config_key_worker_concurrency_and_extra() -> None:
    data = by_kind(render(), "ConfigMap")[FULLNAME]["data"]
    expected = _rendered_defaults()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["workers"]
    expected |= {f"RAGTASKS_{w.upper()}_CONCURRENCY": str(defaults[w]["concurrency"]) for w in WORKERS}
    assert data == expected
    sets = ("config.llmTimeoutSeconds=17", "workers.alerter.concurrency=9", "config.extra.RAGTASKS_LLM_MAX_RETRIES=5")
    data = by_kind(render(None, *sets), "ConfigMap")[FULLNAME]["data"]
    assert data == expected | {
        "RAGTASKS_LLM_TIMEOUT_SECONDS": "17",
        "RAGTASKS_ALERTER_CONCURRENCY": "9",
        "RAGTASKS_LLM_MAX_RETRIES": "5",
    }
