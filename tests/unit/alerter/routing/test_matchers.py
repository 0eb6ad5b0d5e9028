"""Matchers parse and match as Alertmanager's classic parser does (pkg/labels/parse.go)."""

from __future__ import annotations

import copy
import re
import time

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
        ('kb=~"("', "invalid regex '(': missing )"),  # RE2's reason, about the user's regex
        ('kb=~"[z-a]"', "invalid regex '[z-a]': invalid character class range"),
        ('kb=~"a{1001}"', "invalid regex"),  # RE2's repetition limit
        ('kb=~"a\\Z"', "invalid regex"),  # Python's \Z; RE2 and Go only know \z
        ('kb=~"\ud800"', "not valid UTF-8"),  # JSON lets a lone surrogate through
        ('kb=~"(?=a)a"', "RE2"),
        ('kb=~"(a)\\1"', "RE2"),
    ],
)
def test_refuses_what_alertmanager_refuses(text: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=re.escape(reason)):
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


# These regexes would otherwise reach RE2's terse "invalid perl operator"/"invalid escape sequence".
@pytest.mark.parametrize("regex", ["(?=a)a", "(?!a)b", "(?<=a)b", "(?<!a)b", "(a)\\1", "(?P<x>a)(?P=x)"])
def test_look_arounds_and_back_references_are_refused_with_the_reason(regex: str) -> None:
    with pytest.raises(MatcherError, match=r"look-arounds or back-references.*RE2.*linear"):
        parse_matcher(f'kb=~"{regex}"')


def test_what_only_looks_like_a_look_around_is_an_ordinary_re2_regex() -> None:
    assert parse_matcher('kb=~"\\(?=x"').matches({"kb": "(=x"})  # an optional "(" then "=x"
    assert parse_matcher('kb=~"[(?=]+"').matches({"kb": "(?="})
    assert parse_matcher(r'kb=~"a\\\\1"').matches({"kb": r"a\1"})  # an escaped backslash, then "1"


def test_a_refused_regex_writes_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MatcherError):
        parse_matcher('kb=~"(?=a)a"')
    assert capfd.readouterr().err == ""


def test_regexes_have_re2_syntax_on_chinese_labels() -> None:
    assert parse_matcher('kb=~"知识库.*"').matches({"kb": "知识库-售后"})
    assert not parse_matcher('kb=~"知识库.*"').matches({"kb": "售后-知识库"})
    assert parse_matcher('kb!~"知识库-(售前|售后)"').matches({"kb": "知识库-运维"})
    assert parse_matcher('kb=~"知.库"').matches({"kb": "知识库"})  # '.' is one character, not one byte
    assert parse_matcher('kb=~"\\p{Han}+"').matches({"kb": "知识库"})
    assert not parse_matcher('kb=~"\\w+"').matches({"kb": "知识库"})  # \w is ASCII in RE2 and Go


def test_a_label_with_a_lone_surrogate_is_matched_not_raised() -> None:
    assert parse_matcher('kb=~"k.*"').matches({"kb": "k\ud800"})
    assert not parse_matcher('kb=~"x.*"').matches({"kb": "k\ud800"})


def test_a_copied_matcher_keeps_its_regex() -> None:
    matcher = parse_matcher('kb=~"k[0-9]+"')
    duplicate = copy.deepcopy(matcher)
    assert duplicate == matcher and duplicate.matches({"kb": "k12"}) and not duplicate.matches({"kb": "k"})


# Hostile input must cost time linear in its length. Before RE2 and the plain-string value these
# took seconds (12 s for the 40,000 spaces, 2**256 steps for the nested quantifier); now a few
# milliseconds, so 1 s leaves a loaded 2-core machine a wide margin and still fails a regression.
# The timeout turns a regression into a failure instead of a hang.
LIMIT_SECONDS = 1.0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("space", [" ", "\t", "\u3000"])
def test_a_long_whitespace_run_parses_in_linear_time(space: str) -> None:
    run = space * 40_000
    started = time.perf_counter()
    inside = parse_matcher(f"kb=x{run}y")
    around = parse_matcher(f'{run}kb{run}!={run}"x"{run}')
    elapsed = time.perf_counter() - started
    assert (inside.name, inside.op, inside.value) == ("kb", "=", f"x{run}y")
    assert (around.name, around.op, around.value) == ("kb", "!=", "x")
    assert elapsed < LIMIT_SECONDS


@pytest.mark.timeout(30)
def test_a_nested_quantifier_matches_in_linear_time() -> None:
    matcher = parse_matcher('kb=~"(a+)+b"')
    started = time.perf_counter()
    assert not matcher.matches({"kb": "a" * 256})
    assert matcher.matches({"kb": "a" * 255 + "b"})
    assert parse_matcher('kb!~"(a|aa)*c"').matches({"kb": "a" * 256})
    assert time.perf_counter() - started < LIMIT_SECONDS
