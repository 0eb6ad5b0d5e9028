"""Routing against real Mongo and the fake robots, in-process with a fake clock (issue 14).

The routes file's pipeline (``routed.py``): a routing matrix, continue, group_by, silences that
start and end, inhibition that lifts, a quiet window that closes, repeats, receivers' own robots
and dead letters. Time is passed in, so hours of quiet are checked without sleeping; the
end-to-end tests (``test_routing.py``) run real workers and the gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragtasks_alerter import routed, service, store
from ragtasks_alerter.routing import Router, build_router
from ragtasks_core.alerting.matchers import parse_matchers
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.documents import silences as silences_doc
from ragtasks_core.documents.alert_routes import ALERT_ROUTES
from ragtasks_core.documents.alerts import ALERTS, NOTIFICATIONS
from ragtasks_core.settings import Settings
from tests.integration.alerter.in_process import Clock, deliver
from tests.support.fake_wecom import FakeWeCom

# Tuesday 2030-01-01 12:00 in Shanghai (04:00 UTC).
T0 = datetime(2030, 1, 1, 4, 0, tzinfo=UTC)
AFTERNOON = T0 + timedelta(hours=3)  # 15:00 in Shanghai: no quiet hours

ROUTES = """
receivers:
  - name: team
    wecom: {{webhook_url: "{team}"}}
  - name: oncall
    wecom: {{webhook_url: "{oncall}", message_type: text, mention_users: [zhangsan], mention_mobiles: ["13800000000"]}}
  - name: kb-owners
    wecom: {{webhook_url: "{owners}", mention_users: [lisi]}}
  - name: bridge
    webhook: {{url: "{bridge}"}}
route:
  receiver: team
  group_by: [source, kb]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
      continue: true
    - matchers: ['source="empty_retrieval"']
      receiver: kb-owners
      mute_time_intervals: [lunch]
    - matchers: ['source="task_failure"']
      receiver: bridge
inhibit_rules:
  - source_matchers: ['alertname="BrokerDown"']
    target_matchers: ['source="task_failure"']
    equal: [cluster]
time_intervals:
  - name: lunch
    time_intervals:
      - times: [{{start_time: "12:00", end_time: "13:30"}}]
"""


@pytest.fixture
def router(wecom: FakeWeCom, tmp_path: Path) -> Router:
    wecom.valid_keys |= {"TEAM", "ONCALL", "OWNERS"}
    text = ROUTES.format(
        team=wecom.url("TEAM"), oncall=wecom.url("ONCALL"), owners=wecom.url("OWNERS"), bridge=wecom.generic_url
    )
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return build_router(path, timezone="Asia/Shanghai", group_wait=30, repeat_interval=14_400)


@pytest.fixture
def rdb(db: Any) -> Any:
    store.ensure_indexes(db)
    return db


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def alert(
    fp: str, *, source: str = "api", severity: str = "warning", status: str = "firing", **labels: str
) -> RaiseAlert:
    return RaiseAlert.model_validate(
        {"fingerprint": fp, "severity": severity, "title": f"title {fp}", "body": "b", "labels": labels}
        | {"source": source, "status": status}
    )


def raise_(db: Any, router: Router, a: RaiseAlert, clock: Clock) -> str:
    done = routed.raise_alert(db, router, a, clock())
    assert done.alert_id is not None
    return done.alert_id


def sweep(db: Any, router: Router, clock: Clock, settings: Settings) -> list[str]:
    return service.periodic(db, None, clock(), settings, router).notifications


def notes(db: Any, ids: list[str]) -> list[dict[str, Any]]:
    return sorted(db[NOTIFICATIONS].find({"_id": {"$in": ids}}), key=lambda n: n["receiver"])


def silence_kb(db: Any, kb_id: str, clock: Clock, *, minutes: float) -> dict[str, Any]:
    """Silence ``kb=kb_id`` from now for ``minutes`` (as ``POST /v1/silences`` would)."""
    silence = silences_doc.new_silence(
        parse_matchers(f'kb="{kb_id}"'),
        starts_at=clock(),
        ends_at=clock() + timedelta(minutes=minutes),
        comment="known incident",
        created_by="ops",
        now=clock(),
    )
    db[silences_doc.SILENCES].insert_one(silence)
    return silence


def test_routing_matrix_continue_and_group_by(rdb: Any, router: Router, settings: Settings) -> None:
    clock = Clock(AFTERNOON)
    cases = {
        # continue: true, but no later sibling matches: a child matched, so not the root's team
        "crit-api": (alert("crit-api", severity="critical"), {"oncall"}),
        "warn-api": (alert("warn-api"), {"team"}),
        "kb1": (alert("kb1", source="empty_retrieval", kb_id="k1"), {"kb-owners"}),
        "kb2": (alert("kb2", source="empty_retrieval", kb_id="k2"), {"kb-owners"}),
        "crit-kb": (
            alert("crit-kb", source="empty_retrieval", severity="critical", kb_id="k1"),
            {"oncall", "kb-owners"},
        ),
        "task": (alert("task", source="task_failure", task="t"), {"bridge"}),
    }
    ids = {name: raise_(rdb, router, a, clock) for name, (a, _) in cases.items()}
    clock.advance(10)  # group_wait
    sent = notes(rdb, sweep(rdb, router, clock, settings))
    for name, (_, receivers) in cases.items():
        assert {n["receiver"] for n in sent if ids[name] in n["alert_ids"]} == receivers, name
        doc = rdb[ALERTS].find_one({"_id": ids[name]})
        assert {r["receiver"] for r in doc["routing"]["routed_to"]} == receivers
        assert {r["outcome"] for r in doc["routing"]["routed_to"]} == {"routed"}
    # group_by [source, kb]: k1's two alerts share kb-owners' group, k2 has its own; the critical
    # one also sits in oncall's (source, kb) group.
    owners = [n for n in sent if n["receiver"] == "kb-owners"]
    assert sorted(len(n["alert_ids"]) for n in owners) == [1, 2]
    assert {n["title"] for n in owners} == {"empty_retrieval k1", "empty_retrieval k2"}
    assert {n["channel"] for n in sent} == {"wecom", "webhook"}


def test_receivers_get_their_own_robot_message_type_and_mentions(
    rdb: Any, router: Router, settings: Settings, wecom: FakeWeCom, http: httpx.Client
) -> None:
    clock = Clock(AFTERNOON)
    raise_(rdb, router, alert("c", severity="critical", source="empty_retrieval", kb_id="k9"), clock)
    clock.advance(10)
    deliver(rdb, sweep(rdb, router, clock, settings), clock, settings, http, router)
    by_key = {m.key: m for m in wecom.messages()}
    assert set(by_key) == {"ONCALL", "OWNERS"}
    oncall = by_key["ONCALL"].body
    assert oncall["msgtype"] == "text"
    assert oncall["text"]["mentioned_list"] == ["zhangsan"]
    assert oncall["text"]["mentioned_mobile_list"] == ["13800000000"]
    owners = by_key["OWNERS"].body
    assert owners["msgtype"] == "markdown" and owners["markdown"]["content"].endswith("\n<@lisi>")
    assert "empty_retrieval k9" in owners["markdown"]["content"]
    doc = rdb[ALERTS].find_one({"fingerprint": "c"})
    assert doc["delivery"]["channels"] == {"oncall": "sent", "kb-owners": "sent"}


def test_a_dead_robot_dead_letters_only_its_receiver(
    rdb: Any, router: Router, settings: Settings, wecom: FakeWeCom, http: httpx.Client
) -> None:
    clock = Clock(AFTERNOON)
    wecom.valid_keys.discard("ONCALL")  # oncall's key is revoked: 93000, dead at once
    raise_(rdb, router, alert("c", severity="critical", source="empty_retrieval", kb_id="k1"), clock)
    clock.advance(10)
    deliver(rdb, sweep(rdb, router, clock, settings), clock, settings, http, router)
    doc = rdb[ALERTS].find_one({"fingerprint": "c"})
    assert doc["delivery"]["channels"] == {"oncall": "dead", "kb-owners": "sent"}
    [dead] = list(rdb[NOTIFICATIONS].find({"state": "dead"}))
    assert dead["receiver"] == "oncall"


def test_a_silence_holds_an_alert_until_it_ends(rdb: Any, router: Router, settings: Settings) -> None:
    clock = Clock(AFTERNOON)
    silence = silence_kb(rdb, "k1", clock, minutes=30)
    aid = raise_(rdb, router, alert("s", source="empty_retrieval", kb_id="k1"), clock)
    other = raise_(rdb, router, alert("o", source="empty_retrieval", kb_id="k2"), clock)
    clock.advance(10)
    sent = notes(rdb, sweep(rdb, router, clock, settings))
    assert [n["alert_ids"] for n in sent] == [[other]]
    doc = rdb[ALERTS].find_one({"_id": aid})
    assert doc["routing"]["silenced_by"] == [silence["_id"]]
    assert doc["routing"]["routed_to"][0]["outcome"] == "silenced"
    clock.advance(20 * 60)
    assert sweep(rdb, router, clock, settings) == []  # still silenced
    clock.advance(10 * 60)  # the silence has ended; the alert still fires
    [nid] = sweep(rdb, router, clock, settings)
    assert notes(rdb, [nid])[0]["alert_ids"] == [aid]
    assert rdb[ALERTS].find_one({"_id": aid})["routing"]["silenced_by"] == []


def test_a_stored_silence_that_no_longer_parses_is_left_out_not_fatal(
    rdb: Any, router: Router, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Stored before matchers moved to RE2, which refuses Python's \\Z: every decision re-reads it.
    clock = Clock(AFTERNOON)
    old = silence_kb(rdb, "k1", clock, minutes=30)
    rdb[silences_doc.SILENCES].update_one({"_id": old["_id"]}, {"$set": {"matchers": ['kb=~"k1\\Z"']}})
    aid = raise_(rdb, router, alert("s", source="empty_retrieval", kb_id="k1"), clock)
    clock.advance(10)
    [nid] = sweep(rdb, router, clock, settings)
    assert notes(rdb, [nid])[0]["alert_ids"] == [aid]  # decided and sent; the broken silence holds nothing
    assert rdb[ALERTS].find_one({"_id": aid})["routing"]["silenced_by"] == []
    assert f"silence {old['_id']} ignored" in caplog.text


def test_a_silence_that_ends_after_its_alert_resolved_sends_nothing(
    rdb: Any, router: Router, settings: Settings
) -> None:
    clock = Clock(AFTERNOON)
    silence_kb(rdb, "k1", clock, minutes=5)
    raise_(rdb, router, alert("s", source="empty_retrieval", kb_id="k1"), clock)
    clock.advance(60)
    assert sweep(rdb, router, clock, settings) == []
    raise_(rdb, router, alert("s", source="empty_retrieval", status="resolved"), clock)
    clock.advance(10 * 60)
    assert sweep(rdb, router, clock, settings) == []
    assert rdb[NOTIFICATIONS].count_documents({}) == 0


def test_inhibition_lifts_when_the_source_resolves(rdb: Any, router: Router, settings: Settings) -> None:
    clock = Clock(AFTERNOON)
    broker = raise_(rdb, router, alert("broker", source="alertmanager", alertname="BrokerDown", cluster="c1"), clock)
    target = raise_(rdb, router, alert("t1", source="task_failure", cluster="c1"), clock)
    elsewhere = raise_(rdb, router, alert("t2", source="task_failure", cluster="c2"), clock)
    clock.advance(10)
    sent = notes(rdb, sweep(rdb, router, clock, settings))
    assert target not in {a for n in sent for a in n["alert_ids"]}
    assert elsewhere in {a for n in sent for a in n["alert_ids"]}
    assert rdb[ALERTS].find_one({"_id": target})["routing"]["inhibited_by"] == broker
    clock.advance(60)
    assert all(target not in n["alert_ids"] for n in notes(rdb, sweep(rdb, router, clock, settings)))
    raise_(rdb, router, alert("broker", source="alertmanager", status="resolved"), clock)
    clock.advance(60)
    sent = notes(rdb, sweep(rdb, router, clock, settings))
    assert [n["alert_ids"] for n in sent if n["receiver"] == "bridge"] == [[target]]
    assert rdb[ALERTS].find_one({"_id": target})["routing"]["inhibited_by"] is None


def test_a_quiet_window_holds_notifications_until_it_closes(rdb: Any, router: Router, settings: Settings) -> None:
    clock = Clock(T0)  # 12:00 Shanghai: kb-owners' lunch (12:00-13:30) has begun
    aid = raise_(rdb, router, alert("q", source="empty_retrieval", kb_id="k1"), clock)
    clock.advance(10)
    assert sweep(rdb, router, clock, settings) == []
    [decision] = rdb[ALERTS].find_one({"_id": aid})["routing"]["routed_to"]
    assert decision["outcome"] == "muted"
    assert decision["muted_until"] == datetime(2030, 1, 1, 5, 30, tzinfo=UTC)  # 13:30 Shanghai
    clock.now = datetime(2030, 1, 1, 5, 29, 59, tzinfo=UTC)
    assert sweep(rdb, router, clock, settings) == []
    clock.now = datetime(2030, 1, 1, 5, 30, tzinfo=UTC)
    [nid] = sweep(rdb, router, clock, settings)
    assert notes(rdb, [nid])[0]["alert_ids"] == [aid]
    assert rdb[ALERT_ROUTES].find_one({"alert_id": aid})["outcome"] == "routed"


def test_repeat_interval_and_resolution_per_route(rdb: Any, router: Router, settings: Settings) -> None:
    clock = Clock(AFTERNOON)
    aid = raise_(rdb, router, alert("r", severity="critical", source="empty_retrieval", kb_id="k1"), clock)
    clock.advance(10)
    assert len(sweep(rdb, router, clock, settings)) == 2  # oncall and kb-owners
    clock.advance(30 * 60)
    assert sweep(rdb, router, clock, settings) == []
    clock.advance(31 * 60)  # repeat_interval 1h
    assert {n["receiver"] for n in notes(rdb, sweep(rdb, router, clock, settings))} == {"oncall", "kb-owners"}
    raise_(rdb, router, alert("r", status="resolved"), clock)
    clock.advance(60)  # group_interval after the last flush
    resolved = notes(rdb, sweep(rdb, router, clock, settings))
    assert {n["receiver"] for n in resolved} == {"oncall", "kb-owners"}
    assert all(n["alerts"][0]["status"] == "resolved" and n["alert_ids"] == [aid] for n in resolved)
    clock.advance(2 * 3600)
    assert sweep(rdb, router, clock, settings) == []
