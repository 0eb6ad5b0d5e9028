"""The route tree, evaluated as Alertmanager does (``dispatch/route.go``).

An alert enters at the root. A node that matches hands the alert to its children in order; the
first child that matches ends the search unless it has ``continue: true``. A matching node none of
whose children match is itself a result. Children inherit ``receiver``, ``group_by``,
``group_wait``, ``group_interval`` and ``repeat_interval``; ``mute_time_intervals`` are a node's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from ragtasks_core.alerting.matchers import matches_all

from .config import GROUP_BY_ALL, Route, RoutesConfig

# Alertmanager's default group_interval; group_wait and repeat_interval default to the
# RAGTASKS_ALERT_GROUP_WAIT_SECONDS / RAGTASKS_ALERT_REPEAT_INTERVAL_SECONDS settings.
DEFAULT_GROUP_INTERVAL_SECONDS = 300.0


@dataclass(frozen=True)
class Timing:
    group_wait: float
    group_interval: float
    repeat_interval: float


@dataclass(frozen=True)
class RouteOptions:
    """A node's effective settings, after inheritance."""

    path: str
    receiver: str
    group_by: tuple[str, ...] | None  # None: every label (``...``)
    timing: Timing
    mute_time_intervals: tuple[str, ...]


@dataclass(frozen=True)
class RouteMatch:
    """One place an alert goes: a receiver, and the group it waits in there."""

    options: RouteOptions
    group_labels: tuple[tuple[str, str], ...]

    @property
    def receiver(self) -> str:
        return self.options.receiver

    @property
    def group_key(self) -> str:
        """Unique per route node and group labels, in Alertmanager's ``{name="value"}`` spelling."""
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(self.group_labels))
        return f"{self.options.path}:{{{inner}}}"

    @property
    def group_id(self) -> str:
        """The group's id where it is stored and in task payloads (id-like, at most 64 chars)."""
        return "rg-" + hashlib.sha256(self.group_key.encode("utf-8")).hexdigest()[:40]

    @property
    def title(self) -> str:
        """What a message's headline shows for the group: its label values, or the receiver."""
        shown = [v for _, v in self.group_labels if v]
        return " ".join(shown) if shown else self.options.receiver


def resolve(route: Route, parent: RouteOptions | None, path: str, defaults: Timing) -> RouteOptions:
    """Fill a node's unset fields from its parent (the root's from ``defaults``)."""
    inherited = parent.timing if parent is not None else defaults
    timing = Timing(
        route.group_wait if route.group_wait is not None else inherited.group_wait,
        route.group_interval if route.group_interval is not None else inherited.group_interval,
        route.repeat_interval if route.repeat_interval is not None else inherited.repeat_interval,
    )
    if route.group_by is not None:
        group_by = None if GROUP_BY_ALL in route.group_by else tuple(route.group_by)
    else:
        group_by = parent.group_by if parent is not None else ()
    receiver = route.receiver or (parent.receiver if parent is not None else "")
    return RouteOptions(path, receiver, group_by, timing, tuple(route.mute_time_intervals))


def match_routes(config: RoutesConfig, labels: Mapping[str, str], defaults: Timing) -> list[RouteMatch]:
    """Every route node the alert ends at, in tree order (at least the root's)."""
    found = _match(config.route, labels, None, "route", defaults)
    # The root has no matchers, so it always matches; this keeps the type honest.
    return [RouteMatch(o, _group_labels(o.group_by, labels)) for o in found or []]


def _match(
    route: Route, labels: Mapping[str, str], parent: RouteOptions | None, path: str, defaults: Timing
) -> list[RouteOptions] | None:
    if not matches_all(route.all_matchers(), labels):
        return None
    options = resolve(route, parent, path, defaults)
    found: list[RouteOptions] = []
    for i, child in enumerate(route.routes):
        child_found = _match(child, labels, options, f"{path}.routes[{i}]", defaults)
        if child_found is None:
            continue
        found += child_found
        if not child.continue_:
            break
    return found or [options]


def _group_labels(group_by: tuple[str, ...] | None, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    # group_by's order, which the headline shows; the key sorts them.
    names = sorted(labels) if group_by is None else group_by
    # A label the alert lacks is left out, as Alertmanager does, so it groups with its peers.
    return tuple((name, labels[name]) for name in names if labels.get(name, ""))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
