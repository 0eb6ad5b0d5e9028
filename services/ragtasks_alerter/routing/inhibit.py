"""Inhibition as Alertmanager does it (``inhibit/inhibit.go``).

A target alert is inhibited while a *firing* alert matches a rule's ``source_matchers`` and has the
same values for every ``equal`` label (a label both lack counts as equal: both are empty). An
alert never inhibits itself, and an alert that matches both sides of a rule can be inhibited only
by a source that does not also match the target side (so two such alerts don't mute each other).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ragtasks_core.alerting.matchers import matches_all

from .config import InhibitRule


@dataclass(frozen=True)
class FiringAlert:
    """A firing alert that may be a source: its id (for ``inhibited_by``) and routing labels."""

    id: str
    labels: Mapping[str, str]


def inhibited_by(
    rules: Sequence[InhibitRule], target_id: str, target: Mapping[str, str], firing: Iterable[FiringAlert]
) -> str | None:
    """The id of the first firing alert that inhibits ``target``, or None."""
    applicable = [r for r in rules if matches_all(r.target_matchers, target)]
    if not applicable:
        return None
    sources = [a for a in firing if a.id != target_id]
    for rule in applicable:
        two_sided = matches_all(rule.source_matchers, target)
        for source in sources:
            if not matches_all(rule.source_matchers, source.labels):
                continue
            if two_sided and matches_all(rule.target_matchers, source.labels):
                continue
            if all(source.labels.get(n, "") == target.get(n, "") for n in rule.equal):
                return source.id
    return None


def source_candidates(rules: Sequence[InhibitRule], firing: Iterable[FiringAlert]) -> list[FiringAlert]:
    """The firing alerts that match some rule's source side (what a store needs to load)."""
    return [a for a in firing if any(matches_all(r.source_matchers, a.labels) for r in rules)]
