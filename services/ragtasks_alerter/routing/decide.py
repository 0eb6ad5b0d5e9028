"""One alert's fate under a routes file: where it goes, and what holds it back.

Evaluated in Alertmanager's pipeline order, per route the alert ends at: inhibited (a firing
source alert), muted (the route's ``mute_time_intervals`` hold now), silenced (an active silence),
else routed. Every reason is reported, not just the first, so ``GET /v1/alerts/{id}`` can show
them all; ``outcome`` is the one that decided, and the bounded label of
``ragtasks_alerts_total{outcome}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from ragtasks_core.alerting.silences import Silence, silenced_by

from .config import RoutesConfig, walk
from .inhibit import FiringAlert, inhibited_by
from .timeintervals import muted_until
from .tree import RouteMatch, Timing, match_routes

Outcome = Literal["routed", "inhibited", "muted", "silenced"]
OUTCOMES: tuple[Outcome, ...] = ("routed", "inhibited", "muted", "silenced")


def routing_labels(labels: Mapping[str, str], *, source: str, severity: str) -> dict[str, str]:
    """What matchers see: the alert's labels plus its ``source`` and ``severity`` fields (which win),
    and ``kb`` for an alert that names its knowledge base only as ``kb_id`` (the retrieval rule's)."""
    out = dict(labels)
    if "kb" not in out and out.get("kb_id"):
        out["kb"] = out["kb_id"]
    out["source"] = source
    out["severity"] = severity
    return out


@dataclass(frozen=True)
class RouteDecision:
    match: RouteMatch
    outcome: Outcome
    muted_until: datetime | None

    @property
    def receiver(self) -> str:
        return self.match.receiver


@dataclass(frozen=True)
class Decision:
    routes: tuple[RouteDecision, ...]
    silenced_by: tuple[str, ...]
    inhibited_by: str | None

    def as_record(self) -> dict[str, object]:
        """The decision as ``GET /v1/alerts/{id}`` shows it (JSON-ready apart from datetimes)."""
        return {
            "routed_to": [
                {
                    "receiver": r.receiver,
                    "route": r.match.options.path,
                    "group_key": r.match.group_key,
                    "outcome": r.outcome,
                    "muted_until": r.muted_until,
                }
                for r in self.routes
            ],
            "silenced_by": list(self.silenced_by),
            "inhibited_by": self.inhibited_by,
        }


@dataclass(frozen=True)
class Router:
    """A loaded routes file with the settings it is read against."""

    config: RoutesConfig
    defaults: Timing
    tz: tzinfo

    def max_group_wait(self) -> float:
        """The longest group_wait of any route (how long a change may rightly wait unsent)."""
        waits = [self.defaults.group_wait]
        waits += [n.group_wait for _, n in walk(self.config.route) if n.group_wait is not None]
        return max(waits)

    def decide(
        self,
        alert_id: str,
        labels: Mapping[str, str],
        now: datetime,
        *,
        silences: Iterable[Silence] = (),
        firing: Iterable[FiringAlert] = (),
    ) -> Decision:
        matches = match_routes(self.config, labels, self.defaults)
        silenced = tuple(silenced_by(silences, labels, now))
        inhibitor = inhibited_by(self.config.inhibit_rules, alert_id, labels, firing)
        routes = tuple(self._one(m, now, silenced, inhibitor) for m in matches)
        return Decision(routes, silenced, inhibitor)

    def _one(self, match: RouteMatch, now: datetime, silenced: tuple[str, ...], inhibitor: str | None) -> RouteDecision:
        intervals = [self.config.interval(n) for n in match.options.mute_time_intervals]
        until = muted_until(intervals, now, self.tz)
        if inhibitor is not None:
            outcome: Outcome = "inhibited"
        elif until is not None:
            outcome = "muted"
        elif silenced:
            outcome = "silenced"
        else:
            outcome = "routed"
        return RouteDecision(match, outcome, until)
