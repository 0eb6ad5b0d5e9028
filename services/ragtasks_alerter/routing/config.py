"""The routes file's model: receivers, the route tree, inhibit rules and time intervals.

Pydantic checks each piece (unknown keys, matcher syntax, durations, clock times); ``RoutesConfig``
checks what ties them together (names referenced exist, the root route's restrictions), as
Alertmanager does. No I/O here: ``loader.py`` reads the YAML.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from ragtasks_core.alerting.matchers import Matcher, MatcherError, new_matcher, parse_matcher_list

from .durations import format_duration, parse_duration
from .timeintervals import NamedTimeInterval

# Receiver names key per-receiver delivery state in Mongo field paths: no dots, no "$".
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
# Alertmanager's special group_by value: group by every label (each alert its own group).
GROUP_BY_ALL = "..."


def _as_matchers(value: object) -> list[Matcher]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list):
        raise ValueError("must be a list of matcher strings, e.g. ['severity=\"critical\"']")
    if all(isinstance(v, Matcher) for v in value):
        return list(value)
    if not all(isinstance(v, str) for v in value):
        raise ValueError("every matcher must be a string, e.g. 'severity=\"critical\"' (quote it in YAML)")
    try:
        return parse_matcher_list(value)
    except MatcherError as exc:
        raise ValueError(str(exc)) from None


def _as_seconds(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Matchers = Annotated[
    list[Matcher], BeforeValidator(_as_matchers), PlainSerializer(lambda ms: [str(m) for m in ms], return_type=list)
]
Duration = Annotated[
    float, BeforeValidator(_as_seconds), Field(ge=0), PlainSerializer(format_duration, return_type=str)
]
Name = Annotated[str, Field(pattern=_NAME)]


class WecomReceiver(BaseModel):
    """A WeCom group robot: its own key, its own 20/min bucket, its own dead letters."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    webhook_url: str | None = Field(None, min_length=1)
    # A file holding the URL (a mounted Secret), read at delivery time: keeps the key out of the file.
    webhook_url_file: str | None = Field(None, min_length=1)
    message_type: Literal["markdown", "text"] = "markdown"
    # WeCom user ids (letters, digits, _ - @ .; at most 64) or "@all".
    mention_users: list[Annotated[str, Field(pattern=r"^(@all|[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63})$")]] = Field(
        default_factory=list
    )
    mention_mobiles: list[Annotated[str, Field(pattern=r"^\+?[0-9\-]{3,20}$")]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_url(self) -> WecomReceiver:
        if (self.webhook_url is None) == (self.webhook_url_file is None):
            raise ValueError("set exactly one of webhook_url and webhook_url_file")
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        return self


class WebhookReceiver(BaseModel):
    """A generic JSON webhook (Slack/Feishu/DingTalk bridges), the body of RAGTASKS_ALERT_WEBHOOK_URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str | None = Field(None, min_length=1)
    url_file: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookReceiver:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("set exactly one of url and url_file")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        return self


class Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    wecom: WecomReceiver | None = None
    webhook: WebhookReceiver | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Receiver:
        if (self.wecom is None) == (self.webhook is None):
            raise ValueError(f"receiver {self.name!r}: set exactly one of wecom and webhook")
        return self

    @property
    def kind(self) -> Literal["wecom", "webhook"]:
        return "wecom" if self.wecom is not None else "webhook"

    def url_fields(self) -> tuple[str | None, str | None]:
        """(the inline URL, the file holding it): exactly one is set."""
        if self.wecom is not None:
            return self.wecom.webhook_url, self.wecom.webhook_url_file
        assert self.webhook is not None
        return self.webhook.url, self.webhook.url_file


class Route(BaseModel):
    """A node of the route tree; unset fields are inherited from the parent (see ``tree.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    receiver: Name | None = None
    matchers: Matchers = Field(default_factory=list)
    # Alertmanager's older spellings: equality and regex maps.
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(False, alias="continue")
    mute_time_intervals: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and GROUP_BY_ALL in value and len(value) > 1:
            raise ValueError(f"{GROUP_BY_ALL!r} must be the only group_by entry")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("group_by has duplicate labels")
        return value

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                new_matcher(name, "=~", pattern)
            except MatcherError as exc:
                raise ValueError(str(exc)) from None
        return value

    def all_matchers(self) -> list[Matcher]:
        extra = [new_matcher(k, "=", v) for k, v in self.match.items()]
        extra += [new_matcher(k, "=~", v) for k, v in self.match_re.items()]
        return [*self.matchers, *extra]


class InhibitRule(BaseModel):
    """A firing source alert mutes target alerts whose ``equal`` labels have the same values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class RoutesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    receivers: list[Receiver] = Field(min_length=1)
    route: Route
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RoutesConfig:
        _unique("receiver", [r.name for r in self.receivers])
        _unique("time interval", [t.name for t in self.time_intervals])
        root = self.route
        if root.receiver is None:
            raise ValueError("route: the root route must name a receiver")
        if root.all_matchers():
            raise ValueError("route: the root route must not have matchers (it receives every alert)")
        if root.continue_:
            raise ValueError("route: the root route cannot have continue")
        if root.mute_time_intervals:
            raise ValueError("route: the root route must not have mute_time_intervals")
        receivers = {r.name for r in self.receivers}
        intervals = {t.name for t in self.time_intervals}
        for path, node in walk(root):
            if node.receiver is not None and node.receiver not in receivers:
                raise ValueError(f"{path}: receiver {node.receiver!r} is not defined in receivers")
            for name in node.mute_time_intervals:
                if name not in intervals:
                    raise ValueError(f"{path}: mute_time_intervals: {name!r} is not defined in time_intervals")
        return self

    def receiver(self, name: str) -> Receiver:
        return self.receivers_by_name()[name]

    def receivers_by_name(self) -> dict[str, Receiver]:
        return {r.name: r for r in self.receivers}

    def interval(self, name: str) -> NamedTimeInterval:
        return next(t for t in self.time_intervals if t.name == name)


def walk(route: Route, path: str = "route") -> list[tuple[str, Route]]:
    """Every node with its YAML path, parents first (``route.routes[0].routes[1]``)."""
    out = [(path, route)]
    for i, child in enumerate(route.routes):
        out += walk(child, f"{path}.routes[{i}]")
    return out


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is defined twice")
        seen.add(name)
