"""Alertmanager's label matchers: ``name="value"``, ``name!=value``, ``name=~"re"``, ``name!~re``.

Parsing follows Alertmanager's classic parser (``pkg/labels/parse.go``): optional braces, a list
split on commas outside double quotes, an optionally quoted value with ``\\"``, ``\\\\`` and ``\\n``
escapes, and regexes anchored at both ends (``^(?:re)$``). A label an alert does not carry has
the empty value, so ``team=""`` matches alerts without a team and ``team!=""`` those with one.

Regexes are compiled and matched by RE2 (``google-re2``), the engine behind Go's ``regexp`` that
Alertmanager uses: the same syntax (no look-arounds or back-references, ASCII ``\\d``/``\\w``) and
matching in time linear in the label, so no silence or route can stall the alerter. Parsing is
linear too. The gateway (silences API) and the alerter (routes file) share this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

Op = Literal["=", "!=", "=~", "!~"]

# Alertmanager's name and operator; '=~' before '=' so that '~' is not read as part of the value.
# The value is the rest, stripped in Python: a lazy '(.*?)\s*$' here rescanned a long whitespace
# run from every position (quadratic, seconds for a 40 kB silence on the gateway's event loop).
_NAME_OP = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)")
# What RE2 refuses that users bring from PCRE/Python: look-arounds and back-references. Looked
# for only once RE2 has refused the regex, to say why instead of RE2's terse "invalid perl operator".
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused regex is the user's error (MatcherError), not a log line


class MatcherError(ValueError):
    """A matcher that Alertmanager would refuse, with the reason."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    # An RE2 regex: google-re2 has no type stubs, and pydantic (which builds a schema for this
    # dataclass in the routes file's models) only accepts an unknown type as Any.
    _regex: Any = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        # RE2 matches UTF-8; 'surrogatepass' so a label with a lone surrogate (JSON allows "\\ud800")
        # reaches RE2 as an invalid sequence instead of raising UnicodeEncodeError in the alerter.
        found = self._regex.fullmatch(actual.encode("utf-8", "surrogatepass")) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def new_matcher(name: str, op: Op, value: str) -> Matcher:
    if op in ("=", "!="):
        return Matcher(name, op, value)
    return Matcher(name, op, value, _compile(value))


def _compile(value: str) -> Any:
    try:
        # fullmatch is the anchoring Alertmanager adds as ^(?:...)$.
        return re2.compile(f"(?:{value})", _RE2_OPTIONS)
    except UnicodeEncodeError:
        raise MatcherError(f"regex {value!r} is not valid UTF-8") from None
    except re2.error as exc:
        if _NOT_RE2.search(value):
            raise MatcherError(
                f"regex {value!r} uses look-arounds or back-references, which Alertmanager's RE2 refuses:"
                " it only runs regexes it can match in time linear in the label"
            ) from None
        raise MatcherError(f"invalid regex {value!r}: {_re2_reason(value, exc)}") from None


def _re2_reason(value: str, exc: Exception) -> str:
    """RE2's reason, about the user's regex rather than its (?:...) wrapping when that alone fails."""
    try:
        re2.compile(value, _RE2_OPTIONS)
    except re2.error as bare:
        exc = bare
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def parse_matcher(text: str) -> Matcher:
    """One matcher, e.g. ``severity="critical"`` or ``kb=~"k[0-9]+"``."""
    found = _NAME_OP.match(text)
    if found is None:
        raise MatcherError(f'bad matcher format: {text!r} (expected name="value", name!=, name=~ or name!~)')
    name, op = found.group(1), found.group(2)
    # str.strip() drops exactly the characters '\s' matches (Unicode whitespace, U+3000 included).
    return new_matcher(name, op, _unquote(text[found.end() :].strip()))  # type: ignore[arg-type]


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
