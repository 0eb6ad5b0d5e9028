"""Inhibition (inhibit/inhibit.go) and silences (Alertmanager's silence semantics and API checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ragtasks_alerter.routing import FiringAlert, Silence, SilenceError, parse_routes
from ragtasks_alerter.routing.inhibit import inhibited_by, source_candidates
from ragtasks_core.alerting.silences import check_span, next_change, parse_silence_matchers, silenced_by

RULES = parse_routes(
    """
receivers: [{name: team, webhook: {url: "http://x"}}]
route: {receiver: team}
inhibit_rules:
  - source_matchers: ['alertname="BrokerDown"']
    target_matchers: ['source="task_failure"']
    equal: [cluster]
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"warning|critical"']
    equal: [kb]
"""
).inhibit_rules

BROKER_DOWN = FiringAlert("a1", {"alertname": "BrokerDown", "cluster": "c1", "severity": "critical"})


def test_a_firing_source_inhibits_targets_with_equal_labels() -> None:
    target = {"source": "task_failure", "cluster": "c1"}
    assert inhibited_by(RULES, "t1", target, [BROKER_DOWN]) == "a1"
    assert inhibited_by(RULES, "t1", {**target, "cluster": "c2"}, [BROKER_DOWN]) is None
    assert inhibited_by(RULES, "t1", {"source": "api", "cluster": "c1"}, [BROKER_DOWN]) is None
    assert inhibited_by(RULES, "t1", target, []) is None


def test_a_label_both_lack_counts_as_equal() -> None:
    source = FiringAlert("a1", {"alertname": "BrokerDown"})
    assert inhibited_by(RULES, "t1", {"source": "task_failure"}, [source]) == "a1"
    assert inhibited_by(RULES, "t1", {"source": "task_failure", "cluster": "c1"}, [source]) is None


def test_an_alert_never_inhibits_itself_nor_a_peer_matching_both_sides() -> None:
    critical = {"severity": "critical", "kb": "k1"}
    # Matches both sides of rule 2: only a source that does not match the target side may inhibit it.
    assert inhibited_by(RULES, "x", critical, [FiringAlert("x", critical)]) is None
    assert inhibited_by(RULES, "x", critical, [FiringAlert("y", critical)]) is None
    # A warning is inhibited by the critical with the same kb.
    assert inhibited_by(RULES, "w", {"severity": "warning", "kb": "k1"}, [FiringAlert("y", critical)]) == "y"


def test_source_candidates() -> None:
    firing = [BROKER_DOWN, FiringAlert("b", {"severity": "info"})]
    assert source_candidates(RULES, firing) == [BROKER_DOWN]


NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def silence(sid: str, matchers: list[str], start: int = -60, end: int = 3600) -> Silence:
    return Silence(
        sid, tuple(parse_silence_matchers(matchers)), NOW + timedelta(seconds=start), NOW + timedelta(seconds=end)
    )


def test_a_silence_mutes_matching_alerts_only_while_active() -> None:
    kb1 = silence("s1", ['kb="k1"'])
    assert kb1.state(NOW) == "active"
    assert silenced_by([kb1], {"kb": "k1", "source": "x"}, NOW) == ["s1"]
    assert silenced_by([kb1], {"kb": "k2"}, NOW) == []
    assert silenced_by([kb1], {"kb": "k1"}, NOW + timedelta(seconds=3600)) == []  # ends_at excluded
    later = silence("s2", ['kb="k1"'], start=60)
    assert later.state(NOW) == "pending" and silenced_by([later], {"kb": "k1"}, NOW) == []
    assert later.state(NOW + timedelta(hours=2)) == "expired"


def test_every_matcher_of_a_silence_must_match() -> None:
    both = silence("s", ['kb="k1"', 'severity=~"warning|info"'])
    assert both.mutes({"kb": "k1", "severity": "info"}, NOW)
    assert not both.mutes({"kb": "k1", "severity": "critical"}, NOW)


def test_next_change_is_the_latest_end_of_the_muting_silences() -> None:
    short, long = silence("a", ['kb="k1"'], end=60), silence("b", ['kb=~"k.*"'], end=600)
    assert next_change([short, long], {"kb": "k1"}, NOW) == NOW + timedelta(seconds=600)
    assert next_change([short, long], {"kb": "z"}, NOW) is None


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        ([], "at least one matcher is required"),
        (['kb=~".*"'], "must not match the empty string"),
        (['kb=""', 'team!="x"'], "must not match the empty string"),
        (['kb="k1'], "unescaped double quote"),
        (["kb"], "bad matcher format"),
        ([f'l{i}="v"' for i in range(33)], "at most 32"),
    ],
)
def test_bad_silence_matchers(matchers: list[str], message: str) -> None:
    with pytest.raises(SilenceError, match=message):
        parse_silence_matchers(matchers)


def test_silence_span_checks() -> None:
    check_span(NOW, NOW + timedelta(hours=1), NOW)
    with pytest.raises(SilenceError, match="after starts_at"):
        check_span(NOW, NOW, NOW)
    with pytest.raises(SilenceError, match="in the past"):
        check_span(NOW - timedelta(hours=2), NOW - timedelta(hours=1), NOW)
    with pytest.raises(SilenceError, match="time zone"):
        check_span(datetime(2026, 1, 1), datetime(2026, 1, 2), NOW)
