"""The metric names and labels users' dashboards and alerts depend on: a public contract."""

from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase

from ragtasks_core import metrics
from tests.observability.contract import known_names

# name -> labels, as the observability issue names them (counters with their _total suffix).
PROMISED = {
    "ragtasks_tasks_total": ("task", "queue", "outcome"),
    "ragtasks_task_duration_seconds": ("task", "queue"),
    "ragtasks_task_queue_wait_seconds": ("task", "queue"),
    "ragtasks_tasks_in_progress": ("task", "queue"),
    "ragtasks_llm_requests_total": ("model", "outcome"),
    "ragtasks_llm_request_duration_seconds": ("model",),
    "ragtasks_llm_tokens_total": ("model", "kind"),
    "ragtasks_rate_limiter_wait_seconds": ("limiter",),
    "ragtasks_eval_hit_rate": ("kb", "k"),
    "ragtasks_eval_mrr": ("kb", "k"),
    "ragtasks_eval_ndcg": ("kb", "k"),
    "ragtasks_alerts_total": ("channel", "outcome"),
    "ragtasks_retrieval_events_total": ("kb", "outcome"),
    "ragtasks_periodic_task_last_success_timestamp_seconds": ("task",),
    "ragtasks_build_info": ("version",),
}
# Exported by a custom collector (RabbitMQ's management API at scrape time); their labels are
# checked through a real Prometheus in tests/integration/observability/test_prometheus_stack.py.
COLLECTED = {"ragtasks_queue_messages": ("queue", "state"), "ragtasks_queue_consumers": ("queue",)}


def declared() -> dict[str, tuple[str, ...]]:
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            suffix = "_total" if value._type == "counter" else ""
            found[value._name + suffix] = tuple(value._labelnames)
    return found


def test_promised_metrics_exist_with_their_labels() -> None:
    assert {name: declared().get(name) for name in PROMISED} == PROMISED


def test_no_label_is_an_id_or_a_hostname() -> None:
    banned = {"id", "task_id", "session_id", "evaluation_id", "host", "hostname", "instance_id", "pid"}
    for name, labels in declared().items():
        assert banned.isdisjoint(labels), (name, labels)


def test_rules_and_dashboards_may_only_name_declared_metrics() -> None:
    assert set(PROMISED) | set(COLLECTED) <= known_names()
