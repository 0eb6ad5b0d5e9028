"""Counting retrieval events in the shared Redis windows and finding rule transitions.

Sync Redis (the rule's two Lua scripts), called off the event loop. One client per app.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI

from ragtasks_core import redis_client
from ragtasks_core.alerting.labels import BoundedLabel
from ragtasks_core.alerting.rules import EmptyRetrievalRule, retrieval_alert
from ragtasks_core.alerting.window import RetrievalWindows, WindowCounts
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings

_lock = threading.Lock()


@dataclass(frozen=True)
class Transition:
    kb_id: str
    action: str  # fire | resolve
    alert: RaiseAlert


def windows_for(app: FastAPI) -> RetrievalWindows:
    """The app's windows (and its Redis client), made on first use."""
    with _lock:
        windows: RetrievalWindows | None = getattr(app.state, "retrieval_windows", None)
        if windows is None:
            settings: Settings = app.state.settings
            client = redis_client.sync_client(settings)
            windows = RetrievalWindows(client, settings.key_prefix, settings.empty_retrieval_window_seconds)
            app.state.retrieval_windows = windows
        return windows


def kb_label_for(app: FastAPI) -> BoundedLabel:
    """The app's bound on the metrics' ``kb`` label (``RAGTASKS_METRICS_MAX_KBS``), made on first use."""
    with _lock:
        label: BoundedLabel | None = getattr(app.state, "kb_label", None)
        if label is None:
            label = BoundedLabel(app.state.settings.metrics_max_kbs)
            app.state.kb_label = label
        return label


def observe(
    windows: RetrievalWindows, rule: EmptyRetrievalRule, events: Iterable[tuple[str, bool]]
) -> tuple[dict[str, WindowCounts], list[Transition]]:
    """Record ``(kb_id, empty)`` events; return window sums and the transitions this caller won."""
    totals: Counter[str] = Counter()
    empties: Counter[str] = Counter()
    for kb_id, empty in events:
        totals[kb_id] += 1
        empties[kb_id] += int(empty)
    sums = windows.record({kb: (totals[kb], empties[kb]) for kb in totals})
    now = datetime.now(UTC)
    transitions: list[Transition] = []
    for kb, counts in sums.items():
        breached = rule.breached(counts.total, counts.empty)
        if breached and not counts.firing and windows.transition(kb, "fire", rule.cooldown_seconds):
            alert = retrieval_alert(rule, kb, firing=True, total=counts.total, empty=counts.empty, now=now)
            transitions.append(Transition(kb, "fire", alert))
        elif not breached and counts.firing and windows.transition(kb, "resolve"):
            alert = retrieval_alert(rule, kb, firing=False, total=counts.total, empty=counts.empty, now=now)
            transitions.append(Transition(kb, "resolve", alert))
    return sums, transitions


def undo(windows: RetrievalWindows, transition: Transition) -> None:
    """The alert could not be published: put the state back so the next batch tries again."""
    windows.transition(transition.kb_id, f"undo_{transition.action}")
