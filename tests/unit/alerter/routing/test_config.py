"""The routes file is validated as a whole, with every problem named at its place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragtasks_alerter.routing import RoutesConfigError, load_routes, parse_routes
from ragtasks_alerter.routing.loader import warnings

from .examples import FULL, ISSUE_EXAMPLE


def test_the_issue_example_loads_as_written() -> None:
    config = parse_routes(ISSUE_EXAMPLE)
    assert [r.name for r in config.receivers] == ["team", "oncall"]
    oncall = config.receiver("oncall").wecom
    assert oncall is not None and oncall.mention_users == ["zhangsan"] and oncall.mention_mobiles == ["13800000000"]
    assert oncall.message_type == "markdown"
    assert config.route.group_by == ["source", "kb"] and config.route.group_wait == 0
    assert [str(m) for m in config.route.routes[0].matchers] == ['severity="critical"']


def test_the_full_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(FULL, encoding="utf-8")
    config = load_routes(path)
    assert config.receiver("bridge").kind == "webhook"
    assert config.route.routes[0].continue_ is True
    assert config.route.routes[1].repeat_interval == 1800
    assert config.interval("nights").time_intervals[1].weekdays == [(0, 4)]
    assert [str(m) for m in config.route.routes[2].all_matchers()] == [
        'source="task_failure"',
        'task=~"ragtasks\\\\.summarizer\\\\..*"',
    ]


def _problems(text: str) -> list[str]:
    with pytest.raises(RoutesConfigError) as caught:
        parse_routes(text, "routes.yaml")
    assert str(caught.value).startswith("routes.yaml: invalid alert routes file:")
    return caught.value.problems


RECEIVERS = "receivers:\n  - name: team\n    wecom: {webhook_url: 'http://robot/send?key=T'}\n"


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        ("route: {receiver: nobody}", "route: receiver 'nobody' is not defined in receivers"),
        ("route: {group_by: [source]}", "the root route must name a receiver"),
        ("route: {receiver: team, matchers: ['a=\"1\"']}", "root route must not have matchers"),
        ("route: {receiver: team, continue: true}", "root route cannot have continue"),
        ("route: {receiver: team, routes: [{receiver: x}]}", "route.routes[0]: receiver 'x' is not defined"),
        (
            "route: {receiver: team, routes: [{mute_time_intervals: [night]}]}",
            "route.routes[0]: mute_time_intervals: 'night' is not defined in time_intervals",
        ),
        ("route: {receiver: team, group_wait: 5 minutes}", "route.group_wait: not a valid duration string"),
        ("route: {receiver: team, group_interval: 0s}", "route.group_interval: must be greater than 0"),
        ("route: {receiver: team, routes: [{matchers: ['a=\"1']}]}", "route.routes[0].matchers: matcher value"),
        ("route: {receiver: team, routes: [{matchers: 'a=1'}]}", "route.routes[0].matchers: must be a list"),
        ("route: {receiver: team, group_by: ['...', kb]}", "'...' must be the only group_by entry"),
        ("route: {receiver: team, recevier: x}", "route.recevier: Extra inputs are not permitted"),
        ("route: {receiver: team, match_re: {kb: '('}}", "route.match_re: invalid regex"),
    ],
)
def test_route_problems(route: str, problem: str) -> None:
    assert any(problem in p for p in _problems(RECEIVERS + route)), _problems(RECEIVERS + route)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("receivers: []\nroute: {receiver: a}", "receivers: List should have at least 1 item"),
        (
            "receivers:\n  - {name: a, wecom: {webhook_url: 'http://x'}}\n  - {name: a, webhook: {url: 'http://y'}}\n"
            "route: {receiver: a}",
            "receiver 'a' is defined twice",
        ),
        ("receivers:\n  - {name: a}\nroute: {receiver: a}", "set exactly one of wecom and webhook"),
        ("receivers:\n  - {name: a, wecom: {}}\nroute: {receiver: a}", "set exactly one of webhook_url and"),
        ("receivers:\n  - {name: a, wecom: {webhook_url: 'ftp://x'}}\nroute: {receiver: a}", "http(s) URL"),
        (
            "receivers:\n  - {name: a, wecom: {webhook_url: 'http://x', mention_mobiles: [13800000000]}}\n"
            "route: {receiver: a}",
            "receivers[0].wecom.mention_mobiles[0]: Input should be a valid string",
        ),
        ("receivers:\n  - {name: 'a b', webhook: {url: 'http://x'}}\nroute: {receiver: a}", "receivers[0].name"),
        ("receivers:\n  - {name: a, webhook: {url: 'http://x'}}\n", "route: Field required"),
        ("receivers:\n  - {name: a, webhook: {url: 'http://x'}}\nroute: {receiver: a}\nroute: {}", "given twice"),
        ("receivers: [\n", "not valid YAML"),
        ("- just a list", "must be a YAML mapping"),
        (
            RECEIVERS + "route: {receiver: team}\ninhibit_rules: [{source_matchers: [], target_matchers: ['a=1']}]",
            "inhibit_rules[0].source_matchers: List should have at least 1 item",
        ),
        (
            RECEIVERS + "route: {receiver: team}\ntime_intervals: [{name: n, time_intervals: [{weekdays: [x]}]}]",
            "time_intervals[0].time_intervals[0].weekdays: 'x' is not a number",
        ),
    ],
)
def test_file_problems(text: str, problem: str) -> None:
    problems = _problems(text)
    assert any(problem in p for p in problems), problems


def test_every_field_problem_is_reported_at_once() -> None:
    problems = _problems(RECEIVERS + "route: {receiver: team, group_wait: x, repeat_interval: y}")
    assert len(problems) == 2


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RoutesConfigError, match="cannot read the file"):
        load_routes(tmp_path / "missing.yaml")


def test_warnings_for_legal_but_odd_files() -> None:
    said = warnings(parse_routes(ISSUE_EXAMPLE))
    assert said == [
        "receiver 'oncall': WeCom markdown messages cannot mention by mobile; mention_mobiles takes effect "
        "with message_type: text (mention_users works in both)"
    ]
    assert warnings(parse_routes(FULL)) == []
    unused = RECEIVERS + "  - {name: spare, webhook: {url: 'http://x'}}\nroute: {receiver: team}"
    assert warnings(parse_routes(unused)) == ["receiver 'spare' is not used by any route"]
