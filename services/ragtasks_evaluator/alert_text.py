"""The recall-drop alert's words, in the team's language (``RAGTASKS_ALERT_LANGUAGE``: zh or en). Pure.

The alerter writes its own wording around an alert in that language; the title and body the
evaluator sends are shown as written, so they follow the same setting. Each drop says what it
was held to: the previous comparable report, the KB's pinned baseline, or the absolute floor
``RAGTASKS_EVAL_MIN_HIT_RATE`` -- an operator must know which one to look at.
"""

from __future__ import annotations

from typing import Any

from ragtasks_core.settings.alerter import AlertLanguage

TEMPLATES: dict[AlertLanguage, dict[str, str]] = {
    "zh": {
        "title": "知识库 {kb_id} 召回率下降",
        "previous": "{metric} 从 {previous:.3f} 降至 {current:.3f}（对比上一份可比报告 {reference}）",
        "baseline": "{metric} 从 {previous:.3f} 降至 {current:.3f}（对比基线报告 {reference}）",
        "floor": "{metric} 为 {current:.3f}，低于下限 {previous:.3f}（RAGTASKS_EVAL_MIN_HIT_RATE）",
        "tail": "（评估 {evaluation_id}，下降阈值 {threshold}）",
        "separator": "；",
    },
    "en": {
        "title": "Recall dropped on knowledge base {kb_id}",
        "previous": "{metric} {previous:.3f} -> {current:.3f} against the previous comparable report {reference}",
        "baseline": "{metric} {previous:.3f} -> {current:.3f} against the baseline report {reference}",
        "floor": "{metric} {current:.3f} below the floor {previous:.3f} (RAGTASKS_EVAL_MIN_HIT_RATE)",
        "tail": " (evaluation {evaluation_id}, threshold {threshold})",
        "separator": "; ",
    },
}


def title(language: AlertLanguage, kb_id: str) -> str:
    return TEMPLATES[language]["title"].format(kb_id=kb_id)


def body(language: AlertLanguage, drops: list[dict[str, Any]], comparison: dict[str, Any], evaluation_id: str) -> str:
    """Every drop, each saying what it was held to, then the evaluation and the threshold."""
    words = TEMPLATES[language]
    lines = [describe(language, d, comparison) for d in drops]
    return words["separator"].join(lines) + words["tail"].format(
        evaluation_id=evaluation_id, threshold=comparison.get("threshold")
    )


def describe(language: AlertLanguage, drop: dict[str, Any], comparison: dict[str, Any]) -> str:
    """One drop: ``against`` is ``previous``, ``baseline`` or ``floor`` (``logic.Drop``)."""
    against = str(drop.get("against", "previous"))
    reference = comparison.get(f"{against}_evaluation_id")
    return TEMPLATES[language][against].format(
        metric=drop["metric"], previous=drop["previous"], current=drop["current"], reference=reference
    )
