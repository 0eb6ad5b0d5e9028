"""Matchers parse and match as Alertmanager's classic parser does (pkg/labels/parse.go)."""

from __future__ import annotations

import pytest

from ragtasks_core.alerting.matchers import MatcherError, parse_matcher, parse_matcher_list, parse_matchers


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('severity="critical"', "severity", "=", "critical"),
        ("severity=critical", "severity", "=", "critical"),
        ('  kb != "k1"  ', "kb", "!=", "k1"),
        ('kb=~"k[0-9]+"', "kb", "=~", "k[0-9]+"),
        ("kb!~k1|k2", "kb", "!~", "k1|k2"),
        ('title="say \\"hi\\""', "title", "=", 'say "hi"'),
        ('path="a\\\\b"', "path", "=", "a\\b"),
        ('body="line\\nnext"', "body", "=", "line\nnext"),
        ('re="\\d+"', "re", "=", "\\d+"),  # a spurious escape keeps its backslash
        ('team=""', "team", "=", ""),
        ("team=", "team", "=", ""),
        ('__name__:x="中文"', "__name__:x", "=", "中文"),
    ],
)
def test_parses_like_alertmanager(text: str, name: str, op: str, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('severity="critical', "unescaped double quote"),
        ('severity=crit"ical', "unescaped double quote"),
        ('severity="a"b"', "unescaped double quote"),
        ('1abc="x"', "bad matcher format"),
        ('sev-erity="x"', "bad matcher format"),
        ("severity", "bad matcher format"),
        ('severity=="x"', "unescaped double quote"),
        ('kb=~"("', "invalid regex"),
        ('kb=~"(?=a)a"', "RE2"),
        ('kb=~"(a)\\1"', "RE2"),
    ],
)
def test_refuses_what_alertmanager_refuses(text: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=reason.replace("(", r"\(")):
        parse_matcher(text)


def test_lists_with_braces_and_commas_inside_quotes() -> None:
    matchers = parse_matchers('{severity="critical", title="a, b", kb=~"k1|k2"}')
    assert [(m.name, m.value) for m in matchers] == [("severity", "critical"), ("title", "a, b"), ("kb", "k1|k2")]
    assert len(parse_matcher_list(['a="1",b="2"', "c=3"])) == 3
    with pytest.raises(MatcherError):
        parse_matchers("{}")
    with pytest.raises(MatcherError, match="bad matcher format"):
        parse_matchers('a="1",,b="2"')


def test_regexes_are_anchored_at_both_ends() -> None:
    matcher = parse_matcher('kb=~"k1"')
    assert matcher.matches({"kb": "k1"})
    assert not matcher.matches({"kb": "k10"})
    assert not matcher.matches({"kb": "xk1"})
    alternation = parse_matcher('kb=~"k1|k2"')  # ^(?:k1|k2)$, not ^k1|k2$
    assert alternation.matches({"kb": "k2"}) and not alternation.matches({"kb": "k2x"})
    assert parse_matcher('kb!~"k.*"').matches({"kb": "other"})
    assert not parse_matcher('kb!~"k.*"').matches({"kb": "k9"})


def test_a_missing_label_has_the_empty_value() -> None:
    assert parse_matcher('team=""').matches({})
    assert not parse_matcher('team!=""').matches({})
    assert parse_matcher('team!="a"').matches({})
    assert parse_matcher('team=~".*"').matches({})
    assert not parse_matcher('team=~".+"').matches({})
    assert not parse_matcher('severity="critical"').matches({"kb": "k1"})


def test_printed_form_parses_back_to_the_same_matcher() -> None:
    for text in ['title="say \\"hi\\"\\n"', "kb=~a|b", 'x!~"\\\\d"']:
        matcher = parse_matcher(text)
        assert parse_matcher(str(matcher)) == matcher
