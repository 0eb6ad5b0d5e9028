"""The recall-drop alert speaks RAGTASKS_ALERT_LANGUAGE (zh by default, en) and says, in either
language, which comparison fired: the previous comparable report, the baseline or the floor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from ragtasks_evaluator import alert_text, logic
from ragtasks_evaluator.report import recall_drop_alert

FINISHED = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def _report(*drops: logic.Drop) -> dict[str, Any]:
    return {
        "_id": "nightly-20261203-退货",
        "kb_id": "zh-support",
        "finished_at": FINISHED,
        "comparison": {
            "previous_evaluation_id": "ev-prev",
            "baseline_evaluation_id": "ev-base",
            "threshold": 0.1,
            "drops": [d.as_dict() for d in drops],
        },
    }


def _settings(**values: Any) -> Settings:
    return Settings(mongodb_url="mongodb://unused", eval_drop_threshold=0.1, **values)


PREVIOUS = logic.Drop("hit_rate@5", 0.9, 0.7, "previous")
BASELINE = logic.Drop("hit_rate@10", 0.95, 0.8, "baseline")
FLOOR = logic.Drop("hit_rate@1", 0.6, 0.55, "floor")


def test_chinese_by_default_and_each_comparison_named() -> None:
    assert _settings().alert_language == "zh"
    alert = recall_drop_alert(_report(PREVIOUS, BASELINE, FLOOR), _settings())
    RaiseAlert(**alert)  # the alerter's contract
    assert alert["title"] == "知识库 zh-support 召回率下降"
    body = alert["body"]
    assert "hit_rate@5 从 0.900 降至 0.700（对比上一份可比报告 ev-prev）" in body
    assert "hit_rate@10 从 0.950 降至 0.800（对比基线报告 ev-base）" in body
    assert "hit_rate@1 为 0.550，低于下限 0.600（RAGTASKS_EVAL_MIN_HIT_RATE）" in body
    assert body.endswith("（评估 nightly-20261203-退货，下降阈值 0.1）")
    assert not any(word in body for word in ("against", "below", "previous", "baseline report"))
    assert alert["labels"]["against"] == "baseline,floor,previous" and alert["severity"] == "critical"


def test_english_when_asked_and_each_comparison_named() -> None:
    alert = recall_drop_alert(_report(PREVIOUS, BASELINE, FLOOR), _settings(alert_language="en"))
    assert alert["title"] == "Recall dropped on knowledge base zh-support"
    body = alert["body"]
    assert "hit_rate@5 0.900 -> 0.700 against the previous comparable report ev-prev" in body
    assert "hit_rate@10 0.950 -> 0.800 against the baseline report ev-base" in body
    assert "hit_rate@1 0.550 below the floor 0.600 (RAGTASKS_EVAL_MIN_HIT_RATE)" in body
    assert body.endswith(" (evaluation nightly-20261203-退货, threshold 0.1)")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in body.replace("退货", ""))


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("drop", [PREVIOUS, BASELINE, FLOOR], ids=lambda d: d.against)
def test_a_single_drop_says_only_its_own_comparison(language: alert_text.AlertLanguage, drop: logic.Drop) -> None:
    body = recall_drop_alert(_report(drop), _settings(alert_language=language))["body"]
    named = {
        "previous": ("ev-prev" in body, "上一份可比报告" in body or "previous comparable report" in body),
        "baseline": ("ev-base" in body, "基线报告" in body or "baseline report" in body),
        "floor": ("RAGTASKS_EVAL_MIN_HIT_RATE" in body, "下限" in body or "floor" in body),
    }
    assert {k for k, v in named.items() if all(v)} == {drop.against}, body
    assert {k for k, v in named.items() if any(v)} == {drop.against}, body


def test_every_template_exists_in_both_languages() -> None:
    assert set(alert_text.TEMPLATES["zh"]) == set(alert_text.TEMPLATES["en"])
