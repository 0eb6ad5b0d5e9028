"""The empty-retrieval rule, the contract's limits, and Alertmanager's payload mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ragtasks_core.alerting.rules import EmptyRetrievalRule, retrieval_alert, rule_from
from ragtasks_core.alerting.window import MAX_BUCKETS, bucket_layout
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.failure_alerts import failure_alert, watched
from ragtasks_core.settings import Settings
from ragtasks_gateway.alerts_alertmanager import AlertmanagerPayload, to_alert

RULE = EmptyRetrievalRule(threshold=50, window_seconds=300, min_events=20, ratio=0.5, cooldown_seconds=900)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "empty", "fires"),
    [
        (1000, 50, True),  # count threshold, whatever the ratio
        (1000, 49, False),
        (20, 10, True),  # ratio with enough events
        (19, 19, False),  # ratio, too few events
        (40, 19, False),
        (0, 0, False),
    ],
)
def test_rule(total: int, empty: int, fires: bool) -> None:
    assert RULE.breached(total, empty) is fires


def test_bucket_layout_is_bounded() -> None:
    for window in (1, 3, 59, 60, 61, 300, 3600, 86_400):
        size, count = bucket_layout(window)
        assert count <= MAX_BUCKETS
        assert size * count >= window
        assert size * (count - 1) < window


def test_retrieval_alerts() -> None:
    firing = retrieval_alert(RULE, "kb-1", firing=True, total=100, empty=60, now=NOW)
    assert firing.fingerprint == "empty_retrieval:kb-1"
    assert firing.status == "firing" and firing.labels["kb_id"] == "kb-1"
    assert "100 次检索中有 60 次无结果（60%）" in firing.body  # zh by default
    resolved = retrieval_alert(RULE, "kb-1", firing=False, total=10, empty=0, now=NOW)
    assert resolved.status == "resolved" and resolved.fingerprint == firing.fingerprint


def test_retrieval_alerts_follow_the_alert_language() -> None:
    zh = rule_from(Settings())
    assert zh.language == "zh"
    firing = retrieval_alert(zh, "产品手册", firing=True, total=100, empty=60, now=NOW)
    assert firing.title == "知识库 产品手册 检索结果为空"
    assert firing.body == (
        "最近 300 秒内，100 次检索中有 60 次无结果（60%）。\n"
        "规则：无结果至少 50 次，或在至少 20 次检索中无结果占比达到 50%。"
    )
    resolved = retrieval_alert(zh, "产品手册", firing=False, total=0, empty=0, now=NOW)
    assert resolved.title == "知识库 产品手册 检索已恢复正常"
    assert resolved.body == "最近 300 秒内，0 次检索中有 0 次无结果（无）。" and "规则" not in resolved.body

    en = rule_from(Settings(alert_language="en"))
    firing = retrieval_alert(en, "kb-1", firing=True, total=100, empty=60, now=NOW)
    assert firing.title == "Empty retrievals on KB kb-1"
    assert firing.body.startswith("60 of 100 retrievals returned nothing in the last 300 s (60%).\nRule: ")
    resolved = retrieval_alert(en, "kb-1", firing=False, total=0, empty=0, now=NOW)
    assert (resolved.title, resolved.body) == (
        "Retrievals on KB kb-1 are back to normal",
        "0 of 0 retrievals returned nothing in the last 300 s (n/a).",
    )


def alert(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "fingerprint": "fp",
        "severity": "warning",
        "title": "t",
        "body": "b",
        "labels": {},
        "source": "api",
    }
    return base | overrides


def test_raise_alert_contract_limits() -> None:
    assert RaiseAlert.model_validate(alert()).status == "firing"
    for bad in (
        {"title": "x" * 257},
        {"body": "x" * 8001},
        {"labels": {f"k{i}": "v" for i in range(33)}},
        {"labels": {"k": "v" * 257}},
        {"labels": {"$where": "1"}},
        {"severity": "page"},
        {"source": "has space"},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            RaiseAlert.model_validate(alert(**bad))


def test_failure_alert_fingerprint_groups_by_task_and_exception() -> None:
    a = failure_alert("ragtasks.summarizer.summarize_session", "t1", ValueError("boom"), NOW, 3600)
    b = failure_alert("ragtasks.summarizer.summarize_session", "t2", ValueError("other"), NOW, 3600)
    c = failure_alert("ragtasks.summarizer.summarize_session", "t3", KeyError("x"), NOW, 3600)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.ends_at is not None and (a.ends_at - NOW).total_seconds() == 3600
    assert watched("ragtasks.evaluator.run_evaluation")
    assert not watched("ragtasks.alerter.deliver")
    assert not watched("celery.chord_unlock")


def test_failure_alerts_follow_the_alert_language() -> None:
    task = "ragtasks.summarizer.summarize_session"
    exc = ValueError("模型返回了空的摘要 {not a field}")
    zh = failure_alert(task, "t1", exc, NOW, 3600)  # zh by default, as RAGTASKS_ALERT_LANGUAGE
    assert zh.title == f"{task} 最终失败：ValueError"
    assert zh.body == "最近一次失败：任务 t1\n模型返回了空的摘要 {not a field}"
    en = failure_alert(task, None, exc, NOW, 3600, "en")
    assert en.title == f"{task} failed for good: ValueError"
    assert en.body == "Last failure: task ?\n模型返回了空的摘要 {not a field}"
    assert zh.fingerprint == en.fingerprint and zh.labels == en.labels  # only the wording differs


AM = {
    "version": "4",
    "groupKey": '{}:{alertname="X"}',
    "status": "firing",
    "receiver": "ragtasks",
    "groupLabels": {"alertname": "X"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "truncatedAlerts": 0,
    "alerts": [
        {
            "status": "resolved",
            "labels": {"alertname": "TaskFailures", "severity": "critical", "queue": "summarizer"},
            "annotations": {"summary": "Summaries failing", "description": "30% failed"},
            "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "2025-01-01T01:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "abc123",
        },
        {
            "status": "firing",
            "labels": {"alertname": "Other"},
            "annotations": {},
            "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        },
    ],
}


def test_alertmanager_mapping() -> None:
    payload = AlertmanagerPayload.model_validate(AM)
    first, second = (to_alert(a) for a in payload.alerts)
    assert first.fingerprint == "alertmanager:abc123"
    assert first.severity == "critical" and first.status == "resolved"
    assert first.title == "Summaries failing" and "30% failed" in first.body
    assert first.ends_at is not None and first.ends_at.hour == 1
    assert second.severity == "warning" and second.title == "Other"
    assert second.ends_at is None and second.fingerprint.startswith("alertmanager:")
