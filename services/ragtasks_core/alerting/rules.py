"""The empty-retrieval rule and the alerts it raises. Pure: no Redis, no Celery.

The alert's title and body are written in ``RAGTASKS_ALERT_LANGUAGE`` (zh by default, or en), like
the alerter's own message wording: the rule carries the language, so whoever builds it with
:func:`rule_from` (the gateway, the alerter's flush) raises alerts in the team's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from ragtasks_core.settings.alerter import AlertLanguage

SOURCE = "empty_retrieval"
# The wording of an empty-retrieval alert, per language; ``{share}`` is a percentage or ``na``.
TEXTS: dict[AlertLanguage, dict[str, str]] = {
    "zh": {
        "firing": "知识库 {kb_id} 检索结果为空",
        "resolved": "知识库 {kb_id} 检索已恢复正常",
        "counts": "最近 {window} 秒内，{total} 次检索中有 {empty} 次无结果（{share}）。",
        "rule": "规则：无结果至少 {threshold} 次，或在至少 {min_events} 次检索中无结果占比达到 {ratio:.0%}。",
        "na": "无",
    },
    "en": {
        "firing": "Empty retrievals on KB {kb_id}",
        "resolved": "Retrievals on KB {kb_id} are back to normal",
        "counts": "{empty} of {total} retrievals returned nothing in the last {window} s ({share}).",
        "rule": "Rule: at least {threshold} empty, or at least {ratio:.0%} empty with {min_events}+ retrievals.",
        "na": "n/a",
    },
}


@dataclass(frozen=True)
class EmptyRetrievalRule:
    threshold: int
    window_seconds: int
    min_events: int
    ratio: float
    cooldown_seconds: int
    # The language its alerts are written in (RAGTASKS_ALERT_LANGUAGE).
    language: AlertLanguage = "zh"

    def breached(self, total: int, empty: int) -> bool:
        """Fire when empties reach the threshold, or their ratio does with enough events."""
        if empty >= self.threshold:
            return True
        return total >= self.min_events and total > 0 and empty / total >= self.ratio


def rule_from(settings: Settings) -> EmptyRetrievalRule:
    return EmptyRetrievalRule(
        threshold=settings.empty_retrieval_threshold,
        window_seconds=settings.empty_retrieval_window_seconds,
        min_events=settings.empty_retrieval_min_events,
        ratio=settings.empty_retrieval_ratio,
        cooldown_seconds=settings.empty_retrieval_cooldown_seconds,
        language=settings.alert_language,
    )


def fingerprint(kb_id: str) -> str:
    return f"{SOURCE}:{kb_id}"


def retrieval_alert(
    rule: EmptyRetrievalRule, kb_id: str, *, firing: bool, total: int, empty: int, now: datetime
) -> RaiseAlert:
    """The alert for one KB's firing (or resolving) transition, in the rule's language."""
    text = TEXTS[rule.language]
    share = f"{empty / total:.0%}" if total else text["na"]
    counts = text["counts"].format(window=rule.window_seconds, total=total, empty=empty, share=share)
    if firing:
        title = text["firing"].format(kb_id=kb_id)
        rule_text = text["rule"].format(threshold=rule.threshold, min_events=rule.min_events, ratio=rule.ratio)
        body = f"{counts}\n{rule_text}"
    else:
        title = text["resolved"].format(kb_id=kb_id)
        body = counts
    return RaiseAlert(
        fingerprint=fingerprint(kb_id),
        severity="warning",
        title=title,
        body=body,
        labels={"kb_id": kb_id, "rule": "empty_retrieval"},
        source=SOURCE,
        status="firing" if firing else "resolved",
        starts_at=now if firing else None,
        ends_at=None if firing else now,
    )
