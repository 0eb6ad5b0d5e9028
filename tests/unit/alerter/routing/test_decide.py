"""One alert's fate: routed, inhibited, muted (until when) or silenced, per route, all reasons kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from ragtasks_alerter.routing import FiringAlert, Router, Silence, Timing, parse_routes, routing_labels
from ragtasks_alerter.routing.timeintervals import zone
from ragtasks_core.alerting.matchers import parse_matchers

from .examples import FULL

SHANGHAI = zone("Asia/Shanghai")
ROUTER = Router(parse_routes(FULL), Timing(30, 300, 14_400), SHANGHAI)
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)
MONDAY_NIGHT = datetime(2026, 12, 7, 23, 0, tzinfo=SHANGHAI)
KB_A = {"source": "empty_retrieval", "kb": "kb-a", "severity": "warning"}


def test_routing_labels_add_source_severity_and_kb() -> None:
    labels = routing_labels({"kb_id": "k1", "severity": "x"}, source="empty_retrieval", severity="critical")
    assert labels == {"kb_id": "k1", "kb": "k1", "source": "empty_retrieval", "severity": "critical"}
    assert routing_labels({"kb_id": "k1", "kb": "own"}, source="s", severity="info")["kb"] == "own"


def test_routed_by_day_muted_at_night_until_the_quiet_hours_end() -> None:
    [day] = ROUTER.decide("a", KB_A, MONDAY_NOON).routes
    assert (day.receiver, day.outcome, day.muted_until) == ("kb-owners", "routed", None)
    [night] = ROUTER.decide("a", KB_A, MONDAY_NIGHT).routes
    assert night.outcome == "muted"
    assert night.muted_until == datetime(2026, 12, 8, 8, 0, tzinfo=SHANGHAI)


def test_muting_is_per_route() -> None:
    critical = {**KB_A, "severity": "critical"}
    outcomes = {r.receiver: r.outcome for r in ROUTER.decide("a", critical, MONDAY_NIGHT).routes}
    assert outcomes == {"oncall": "routed", "kb-owners": "muted"}


def test_silenced_then_sent_once_the_silence_ends() -> None:
    quiet = Silence("s1", tuple(parse_matchers('kb="kb-a"')), MONDAY_NOON, MONDAY_NOON + timedelta(minutes=5))
    decision = ROUTER.decide("a", KB_A, MONDAY_NOON, silences=[quiet])
    assert decision.silenced_by == ("s1",) and decision.routes[0].outcome == "silenced"
    after = ROUTER.decide("a", KB_A, MONDAY_NOON + timedelta(minutes=5), silences=[quiet])
    assert after.silenced_by == () and after.routes[0].outcome == "routed"


def test_inhibition_wins_and_every_reason_is_recorded() -> None:
    target = {"source": "task_failure", "task": "ragtasks.summarizer.s", "cluster": "c1", "severity": "warning"}
    broker = FiringAlert("src", {"alertname": "BrokerDown", "cluster": "c1"})
    quiet = Silence("s1", tuple(parse_matchers('cluster="c1"')), MONDAY_NOON, MONDAY_NOON + timedelta(hours=1))
    decision = ROUTER.decide("t", target, MONDAY_NOON, silences=[quiet], firing=[broker])
    assert decision.inhibited_by == "src" and decision.silenced_by == ("s1",)
    record = decision.as_record()
    assert record == {
        "routed_to": [
            {
                "receiver": "bridge",
                "route": "route.routes[2]",
                "group_key": decision.routes[0].match.group_key,
                "outcome": "inhibited",
                "muted_until": None,
            }
        ],
        "silenced_by": ["s1"],
        "inhibited_by": "src",
    }
