"""Alertmanager's label matchers: ``name="value"``, ``name!=value``, ``name=~"re"``, ``name!~re``.

Parsing follows Alertmanager's classic parser (``pkg/labels/parse.go``): optional braces, a list
split on commas outside double quotes, an optionally quoted value with ``\\"``, ``\\\\`` and ``\\n``
escapes, and regexes anchored at both ends (``^(?:re)$``). A label an alert does not carry has
the empty value, so ``team=""`` matches alerts without a team and ``team!=""`` those with one.
Only the standard library: the gateway (silences API) and the alerter (routes file) share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]

# Alertmanager's expression; '=~' before '=' so that '~' is not read as part of the value.
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
# Python regex features RE2 (Go's regexp, what Alertmanager uses) refuses: look-arounds and
# back-references. Refused here too, so a matcher means the same thing in both places.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")


class MatcherError(ValueError):
    """A matcher that Alertmanager would refuse, with the reason."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def new_matcher(name: str, op: Op, value: str) -> Matcher:
    if op in ("=", "!="):
        return Matcher(name, op, value)
    if _NOT_RE2.search(value):
        raise MatcherError(f"regex {value!r} uses look-arounds or back-references, which Alertmanager's RE2 refuses")
    try:
        # fullmatch is the anchoring Alertmanager adds as ^(?:...)$.
        compiled = re.compile(f"(?:{value})")
    except re.error as exc:
        raise MatcherError(f"invalid regex {value!r}: {exc}") from None
    return Matcher(name, op, value, compiled)


def parse_matcher(text: str) -> Matcher:
    """One matcher, e.g. ``severity="critical"`` or ``kb=~"k[0-9]+"``."""
    found = _MATCHER.match(text)
    if found is None:
        raise MatcherError(f'bad matcher format: {text!r} (expected name="value", name!=, name=~ or name!~)')
    name, op, raw = found.group(1), found.group(2), found.group(3)
    return new_matcher(name, op, _unquote(raw))  # type: ignore[arg-type]


def parse_matchers(text: str) -> list[Matcher]:
    """A list as Alertmanager's config and amtool take it: ``{a="1", b=~"x|y"}`` or ``a="1",b="2"``."""
    body = text.strip()
    body = body.removeprefix("{").removesuffix("}")
    tokens = _split_outside_quotes(body)
    if not tokens:
        raise MatcherError(f"no matcher in {text!r}")
    return [parse_matcher(token) for token in tokens]


def parse_matcher_list(items: Iterable[str]) -> list[Matcher]:
    """A YAML ``matchers:`` list: each item may itself hold several comma-separated matchers."""
    out: list[Matcher] = []
    for item in items:
        out += parse_matchers(item)
    return out


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _split_outside_quotes(text: str) -> list[str]:
    tokens: list[str] = []
    current: list[str] = []
    inside = escaped = False
    for char in text:
        if char == "," and not inside:
            tokens.append("".join(current))
            current = []
            continue
        if char == '"':
            if escaped:
                escaped = False
            else:
                inside = not inside
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        current.append(char)
    last = "".join(current).strip()
    if last:
        tokens.append(last)
    return tokens


def _unquote(raw: str) -> str:
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    escaped = False
    for i, char in enumerate(body):
        if escaped:
            escaped = False
            # \n, \" and \\ are escapes; any other backslash is kept literally, as Alertmanager does.
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
            continue
        if char == "\\" and i < len(body) - 1:
            escaped = True
        elif char == '"':
            if not quoted or i < len(body) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {raw!r}")
            quoted = False  # the closing quote
        else:
            out.append(char)
    if quoted:
        raise MatcherError(f"matcher value contains unescaped double quote: {raw!r}")
    return "".join(out)
