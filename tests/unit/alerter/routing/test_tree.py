"""The route tree: first match wins unless continue, children inherit, group keys (dispatch/route.go)."""

from __future__ import annotations

import re

import pytest

from ragtasks_alerter.routing import Timing, match_routes, parse_routes

from .examples import FULL, ISSUE_EXAMPLE

DEFAULTS = Timing(group_wait=30, group_interval=300, repeat_interval=14_400)


def receivers(text: str, **labels: str) -> list[str]:
    return [m.receiver for m in match_routes(parse_routes(text), labels, DEFAULTS)]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical", "source": "api"}, ["oncall"]),
        ({"severity": "warning", "source": "api"}, ["team"]),
        ({"source": "api"}, ["team"]),
        ({"severity": "Critical"}, ["team"]),  # values are case-sensitive
    ],
)
def test_issue_example_matrix(labels: dict[str, str], expected: list[str]) -> None:
    assert receivers(ISSUE_EXAMPLE, **labels) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # critical goes to oncall and, continue: true, on to the next matching sibling
        ({"severity": "critical", "source": "empty_retrieval", "kb": "kb-a"}, ["oncall", "kb-owners"]),
        # continue, but no later sibling matches: a child did match, so the root is not a result
        ({"severity": "critical", "source": "api"}, ["oncall"]),
        ({"severity": "warning", "source": "empty_retrieval", "kb": "kb-b"}, ["kb-owners"]),  # child inherits
        ({"severity": "warning", "source": "empty_retrieval", "kb": "kb-c"}, ["team"]),  # anchored regex
        ({"severity": "warning", "source": "empty_retrieval", "kb": "kb-ab"}, ["team"]),
        ({"severity": "info", "source": "task_failure", "task": "ragtasks.summarizer.summarize_session"}, ["bridge"]),
        ({"severity": "info", "source": "task_failure", "task": "ragtasks.evaluator.run"}, ["team"]),
    ],
)
def test_full_example_matrix(labels: dict[str, str], expected: list[str]) -> None:
    assert receivers(FULL, **labels) == expected


def test_children_inherit_timing_and_grouping_but_not_mute_intervals() -> None:
    config = parse_routes(FULL)
    [match] = match_routes(config, {"severity": "warning", "source": "empty_retrieval", "kb": "kb-b"}, DEFAULTS)
    options = match.options
    assert options.path == "route.routes[1].routes[0]"
    assert options.receiver == "kb-owners"
    assert options.timing == Timing(group_wait=0, group_interval=60, repeat_interval=1800)
    assert options.group_by == ("source",)
    assert options.mute_time_intervals == ()  # Alertmanager: a node's own, never inherited
    [parent] = match_routes(config, {"severity": "warning", "source": "empty_retrieval", "kb": "kb-a"}, DEFAULTS)
    assert parent.options.mute_time_intervals == ("nights",)


def test_unset_root_timing_comes_from_the_defaults() -> None:
    [match] = match_routes(parse_routes(ISSUE_EXAMPLE), {"source": "api"}, DEFAULTS)
    assert match.options.timing == Timing(group_wait=0, group_interval=300, repeat_interval=14_400)


def test_group_keys_follow_group_by_and_route() -> None:
    config = parse_routes(ISSUE_EXAMPLE)

    def key(**labels: str) -> str:
        return match_routes(config, labels, DEFAULTS)[0].group_key

    assert key(source="empty_retrieval", kb="k1", kb_id="k1") == 'route:{kb="k1",source="empty_retrieval"}'
    assert key(source="empty_retrieval", kb="k1") != key(source="empty_retrieval", kb="k2")
    assert key(source="api", title="x") == key(source="api", title="y")  # not in group_by
    assert key(source="api", severity="critical") == 'route.routes[0]:{source="api"}'
    [match] = match_routes(config, {"source": "empty_retrieval", "kb": "k1"}, DEFAULTS)
    assert match.title == "empty_retrieval k1"  # group_by's order


def test_group_by_all_labels_gives_each_label_set_its_own_group() -> None:
    config = parse_routes(FULL)
    labels = {"severity": "info", "source": "task_failure", "task": "ragtasks.summarizer.x"}
    [match] = match_routes(config, labels, DEFAULTS)
    assert match.options.group_by is None
    assert dict(match.group_labels) == labels
    [other] = match_routes(config, {**labels, "exc": "E"}, DEFAULTS)
    assert other.group_key != match.group_key


def test_group_key_escapes_quotes() -> None:
    [match] = match_routes(parse_routes(ISSUE_EXAMPLE), {"source": 'a"b', "kb": "x\\y"}, DEFAULTS)
    assert match.group_key == 'route:{kb="x\\\\y",source="a\\"b"}'


def test_group_ids_are_id_like_and_stable() -> None:
    config = parse_routes(ISSUE_EXAMPLE)
    [a] = match_routes(config, {"source": 'a"b', "kb": "中文 k1"}, DEFAULTS)
    [b] = match_routes(config, {"source": 'a"b', "kb": "中文 k1", "x": "y"}, DEFAULTS)
    [c] = match_routes(config, {"source": "other"}, DEFAULTS)
    assert a.group_id == b.group_id != c.group_id
    assert re.fullmatch(r"rg-[0-9a-f]{40}", a.group_id)  # fits the flush_alerts payload's id pattern
