"""Every setting is reachable from the chart: a `config` key, a `secrets` key, or excluded for a reason.

A new settings field that is not wired into the chart fails `test_every_settings_field_is_wired`
until it is added to `config` (values.yaml with its `# --` comment, values.schema.json, the README
row), to `secrets` (values.yaml, the Secret template), or to ``EXCLUDED`` below with the reason.
The defaults the chart renders are the application's own, so installing the chart changes nothing
but what `environment` and `metricsHost` say.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ragtasks_core.settings import Settings
from tests.deploy.chart import CHART, FULLNAME, by_kind, render

PREFIX = Settings.model_config["env_prefix"]
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

# Settings fields the chart sets from elsewhere, or that have no place in a cluster (field: why).
EXCLUDED = {
    # Each worker's concurrency is `workers.<name>.concurrency` (its command line and the ConfigMap).
    "summarizer_concurrency": "workers.summarizer.concurrency",
    "evaluator_concurrency": "workers.evaluator.concurrency",
    "alerter_concurrency": "workers.alerter.concurrency",
    # Metrics ports, pools and recycling are per component, on their command lines.
    "summarizer_metrics_port": "workers.summarizer.metricsPort (--metrics-port)",
    "evaluator_metrics_port": "workers.evaluator.metricsPort (--metrics-port)",
    "alerter_metrics_port": "workers.alerter.metricsPort (--metrics-port)",
    "beat_metrics_port": "beat.metricsPort (--metrics-port)",
    "worker_pool": "workers.<name>.pool (--pool)",
    "worker_max_tasks_per_child": "workers.<name>.maxTasksPerChild (--max-tasks-per-child)",
    # The gateway's pod listens on every interface of the pod, on gateway.port (--host, --port).
    "gateway_host": "0.0.0.0 in the pod (--host)",
    "gateway_port": "gateway.port (--port)",
    # The chart renders the routes file from `alerter.routes`, mounts it and sets its path.
    "alert_routes_file": "alerter.routes",
    # A secret (it carries credentials), under the key KEDA's TriggerAuthentication also reads.
    "rabbitmq_management_url": "secrets.rabbitmqManagementUrl (RABBITMQ_MANAGEMENT_URL)",
    # Tests and demos only: the nightly run every N seconds instead of daily.
    "eval_nightly_interval_seconds": "tests and demos only",
}
# `config` defaults that differ from the application's on purpose: a cluster is production, and its
# probes and Prometheus reach the pod on its IP.
CHART_DEFAULTS = {"environment": "production", "metrics_host": "0.0.0.0"}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def config_fields() -> set[str]:
    return {_snake(key) for key in VALUES["config"] if key != "extra"}


def secret_fields() -> set[str]:
    """The fields the rendered Secret carries, every `secrets` value set (what helm renders)."""
    sets = [f"secrets.{key}=x" for key in VALUES["secrets"] if key != "existingSecret"]
    data = by_kind(render(None, *sets), "Secret")[FULLNAME]["stringData"]
    assert len(data) == len(sets), data  # one Secret key per `secrets` value
    fields = {name.removeprefix(PREFIX).lower() for name in data if name.startswith(PREFIX)}
    assert set(data) - {PREFIX + f.upper() for f in fields} == {"RABBITMQ_MANAGEMENT_URL"}
    return fields


def test_every_settings_field_is_wired() -> None:
    fields = set(Settings.model_fields)
    config, secrets, excluded = config_fields(), secret_fields(), set(EXCLUDED)
    assert fields - config - secrets - excluded == set(), "settings the chart cannot set"
    # Nothing stale or twice: every entry names a field, and one way only.
    assert (config | secrets | excluded) - fields == set()
    assert config & secrets == config & excluded == secrets & excluded == set()


def test_the_issues_settings_are_config_keys() -> None:
    wanted = {
        "alertLanguage", "alertLinkHosts", "llmContextTokens", "summaryTriggerMessages", "summaryKeepRecentTokens",
        "summaryPromptFile", "sessionRetentionDays", "evalMinHitRate", "apiKeyIsolation", "evalQuestionsPerChunk",
        "maxEtaSeconds", "eventQueriesMaxPerKb", "redisSentinels", "redisSentinelMaster",
    }  # fmt: skip
    assert wanted <= set(VALUES["config"])
    assert "redisSentinelPassword" in VALUES["secrets"]


def test_every_config_key_has_a_schema_entry() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    assert list(schema["config"]["properties"]) == list(VALUES["config"])
    assert list(schema["secrets"]["properties"]) == list(VALUES["secrets"])


def _settings_from(data: dict[str, str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Settings as a pod builds them from the ConfigMap's variables (none of this process's own)."""
    for name in [n for n in os.environ if n.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in {**data, **env}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_charts_defaults_are_the_applications(monkeypatch: pytest.MonkeyPatch) -> None:
    data = by_kind(render(), "ConfigMap")[FULLNAME]["data"]
    # Development, so the production guard does not ask for the secrets a ConfigMap never holds.
    built = _settings_from(data, monkeypatch, RAGTASKS_ENVIRONMENT="development")
    monkeypatch.undo()
    defaults = Settings()
    differ = {f: getattr(built, f) for f in config_fields() if getattr(built, f) != getattr(defaults, f)}
    assert differ == {"metrics_host": CHART_DEFAULTS["metrics_host"]}
    assert data[f"{PREFIX}ENVIRONMENT"] == CHART_DEFAULTS["environment"]
    unset = {_snake(key) for key, value in VALUES["config"].items() if value == ""}
    assert {f"{PREFIX}{f.upper()}" for f in unset} & set(data) == set()  # left out: the app's default


def test_settings_set_through_config_reach_the_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    sets = (
        "config.alertLanguage=en",
        "config.alertLinkHosts={grafana.example.com,wiki.example.com:8443}",
        "config.maxEtaSeconds=900",
        "config.sessionRetentionDays=30",
        "config.summaryTriggerMessages=40",
        "config.redisSentinels={redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379}",
        "config.redisSentinelMaster=mymaster",
        "config.apiKeyIsolation=true",
        "config.evalK={1,3}",
        "config.maxRequestBytes=8388608",
    )
    data = by_kind(render(None, *sets), "ConfigMap")[FULLNAME]["data"]
    built = _settings_from(data, monkeypatch, RAGTASKS_ENVIRONMENT="development")
    assert built.alert_language == "en" and built.alert_link_hosts == ["grafana.example.com", "wiki.example.com:8443"]
    assert (built.max_eta_seconds, built.session_retention_days, built.summary_trigger_messages) == (900, 30, 40)
    assert built.redis_sentinels == ["redis-node-0.redis-headless:26379", "redis-node-1.redis-headless:26379"]
    assert built.redis_sentinel_master == "mymaster" and built.api_key_isolation is True
    assert built.eval_k == [1, 3] and built.max_request_bytes == 8_388_608


def test_the_sentinel_password_is_a_secret_not_config() -> None:
    manifests = render(None, "secrets.redisSentinelPassword=s3ntinel-pass")
    assert by_kind(manifests, "Secret")[FULLNAME]["stringData"][f"{PREFIX}REDIS_SENTINEL_PASSWORD"] == "s3ntinel-pass"
    assert "s3ntinel-pass" not in json.dumps(by_kind(manifests, "ConfigMap")[FULLNAME])
