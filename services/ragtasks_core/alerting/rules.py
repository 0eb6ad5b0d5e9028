"""The empty-retrieval rule and the alerts it raises. Pure: no Redis, no Celery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings

SOURCE = "empty_retrieval"


@dataclass(frozen=True)
class EmptyRetrievalRule:
    threshold: int
    window_seconds: int
    min_events: int
    ratio: float
    cooldown_seconds: int

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
    )


def fingerprint(kb_id: str) -> str:
    return f"{SOURCE}:{kb_id}"


def retrieval_alert(
    rule: EmptyRetrievalRule, kb_id: str, *, firing: bool, total: int, empty: int, now: datetime
) -> RaiseAlert:
    """The alert for one KB's firing (or resolving) transition."""
    share = f"{empty / total:.0%}" if total else "n/a"
    counts = f"{empty} of {total} retrievals returned nothing in the last {rule.window_seconds} s ({share})."
    if firing:
        title = f"Empty retrievals on KB {kb_id}"
        body = (
            f"{counts}\nRule: at least {rule.threshold} empty, or at least {rule.ratio:.0%} empty "
            f"with {rule.min_events}+ retrievals."
        )
    else:
        title = f"Retrievals on KB {kb_id} are back to normal"
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
