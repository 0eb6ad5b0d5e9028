"""Silences as Alertmanager defines them: matchers and a time span, checked against an alert's labels.

A silence mutes every alert all its matchers match while ``starts_at <= now < ends_at``. As
Alertmanager's API does, a new silence needs at least one matcher, ``ends_at`` after ``starts_at``
and after now, and at least one matcher that does not match the empty string (``kb=~".*"`` alone
would silence everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .matchers import Matcher, MatcherError, matches_all, parse_matcher_list

MAX_MATCHERS = 32
MAX_COMMENT_CHARS = 1000

State = Literal["pending", "active", "expired"]


class SilenceError(ValueError):
    """A silence Alertmanager's API would refuse (the gateway answers 422 with this text)."""


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def state(self, now: datetime) -> State:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) == "active" and matches_all(self.matchers, labels)


def parse_silence_matchers(items: Sequence[str]) -> list[Matcher]:
    """Validate a silence's ``matchers`` the way Alertmanager's API does."""
    if not items:
        raise SilenceError("matchers: at least one matcher is required")
    try:
        matchers = parse_matcher_list(items)
    except MatcherError as exc:
        raise SilenceError(f"matchers: {exc}") from None
    if len(matchers) > MAX_MATCHERS:
        raise SilenceError(f"matchers: at most {MAX_MATCHERS}")
    if all(m.matches({}) for m in matchers):
        raise SilenceError("matchers: at least one matcher must not match the empty string (else it silences all)")
    return matchers


def check_span(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise SilenceError("starts_at and ends_at need a time zone (e.g. 2026-01-02T03:04:05Z)")
    if ends_at <= starts_at:
        raise SilenceError("ends_at must be after starts_at")
    if ends_at <= now:
        raise SilenceError("ends_at is in the past")


def silenced_by(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> list[str]:
    """The ids of the active silences that mute these labels (sorted, so the record is stable)."""
    return sorted(s.id for s in silences if s.mutes(labels, now))


def next_change(silences: Iterable[Silence], labels: Mapping[str, str], now: datetime) -> datetime | None:
    """When the silencing of these labels may end: the latest end of the silences muting them."""
    ends = [s.ends_at for s in silences if s.mutes(labels, now)]
    return max(ends) if ends else None
