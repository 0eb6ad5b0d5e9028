"""The alert pipeline against real Mongo and Redis and the fake robot, in-process with a fake clock.

Celery is left out here (the end-to-end tests run real workers); time is passed in, so group
waits, repeats and retry delays are checked without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis as redis_lib

from ragtasks_alerter import service, store
from ragtasks_core.alerting.window import RetrievalWindows
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from tests.integration.alerter.in_process import Clock, deliver
from tests.support.fake_wecom import FakeWeCom

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def alert(fp: str, *, source: str = "api", status: str = "firing", title: str = "t") -> RaiseAlert:
    return RaiseAlert.model_validate(
        {"fingerprint": fp, "severity": "warning", "title": title, "body": "b", "labels": {}, "source": source}
        | {"status": status}
    )


@pytest.fixture
def alerter_settings(make_settings: Callable[..., Settings], wecom: FakeWeCom) -> Settings:
    return make_settings(
        wecom_webhook_url=wecom.url(),
        alert_group_wait_seconds=10,
        alert_repeat_interval_seconds=3600,
        wecom_rate_limited_retry_seconds=60,
        alert_max_retries=2,
    )


def test_dedup_group_wait_one_message_then_resolved(
    db: Any, alerter_settings: Settings, wecom: FakeWeCom, http: httpx.Client
) -> None:
    store.ensure_indexes(db)
    clock = Clock(T0)
    first = service.raise_alert(db, alert("fp-1", title="one"), clock(), group_wait=10)
    assert first.flush_at == T0 + timedelta(seconds=10)
    for _ in range(3):  # the same fingerprint again: one alert, more occurrences, no new timer
        assert service.raise_alert(db, alert("fp-1", title="one"), clock(), group_wait=10).flush_at is None
    assert service.raise_alert(db, alert("fp-2", title="two"), clock(), group_wait=10).flush_at is None
    assert service.flush_group(db, "api", clock(), alerter_settings) == []  # still waiting
    clock.advance(10)
    ids = service.flush_group(db, "api", clock(), alerter_settings)
    assert len(ids) == 1
    assert service.flush_group(db, "api", clock(), alerter_settings) == []  # claimed once
    [outcome] = deliver(db, ids, clock, alerter_settings, http)
    assert outcome.action == "sent"
    [msg] = wecom.messages()
    assert "[告警中:2] api" in msg.content and "共 4 次" in msg.content
    doc = db[store.ALERTS].find_one({"fingerprint": "fp-1"})
    assert doc["occurrences"] == 4 and doc["delivery"]["state"] == "sent"
    assert [a["outcome"] for a in doc["attempts"]] == ["sent"]
    # Resolution of one alert: a resolved-only message after the next wait.
    clock.advance(1)
    assert service.raise_alert(db, alert("fp-1", status="resolved"), clock(), group_wait=10).flush_at is not None
    clock.advance(10)
    ids = service.flush_group(db, "api", clock(), alerter_settings)
    deliver(db, ids, clock, alerter_settings, http)
    assert "[已恢复:1] api" in wecom.messages()[-1].content
    # A new firing of the same fingerprint is a new episode (a new alert document).
    service.raise_alert(db, alert("fp-1"), clock(), group_wait=10)
    assert db[store.ALERTS].count_documents({"fingerprint": "fp-1"}) == 2


def test_repeat_interval_and_lost_flush_are_caught_by_the_periodic_run(
    db: Any, alerter_settings: Settings, wecom: FakeWeCom, http: httpx.Client
) -> None:
    store.ensure_indexes(db)
    clock = Clock(T0)
    service.raise_alert(db, alert("fp-r", source="repeat"), clock(), group_wait=10)
    # The delayed flush task is "lost": only the periodic run remains.
    clock.advance(30)
    sweep = service.periodic(db, None, clock(), alerter_settings)
    assert len(sweep.notifications) == 1
    deliver(db, sweep.notifications, clock, alerter_settings, http)
    assert service.periodic(db, None, clock(), alerter_settings).notifications == []
    clock.advance(3601)
    sweep = service.periodic(db, None, clock(), alerter_settings)
    assert len(sweep.notifications) == 1  # still firing after the repeat interval: said again
    deliver(db, sweep.notifications, clock, alerter_settings, http)
    assert len(wecom.messages()) == 2


def test_errcodes_retry_and_dead_letter(
    db: Any, alerter_settings: Settings, wecom: FakeWeCom, http: httpx.Client
) -> None:
    store.ensure_indexes(db)
    clock = Clock(T0)
    service.raise_alert(db, alert("fp-e", source="errs"), clock(), group_wait=0)
    [nid] = service.flush_group(db, "errs", clock(), alerter_settings)
    wecom.push(45009, -1, -1)
    [limited] = deliver(db, [nid], clock, alerter_settings, http)
    assert (limited.action, limited.delay, limited.attempt_outcome) == ("retry", 60, "failed")
    # Early duplicate: not due yet, nothing sent.
    [early] = deliver(db, [nid], clock, alerter_settings, http)
    assert early.action == "retry" and early.detail == "not due yet"
    clock.advance(60)
    [busy1] = deliver(db, [nid], clock, alerter_settings, http)
    assert (busy1.action, busy1.delay) == ("retry", 2.0)
    clock.advance(2)
    [busy2] = deliver(db, [nid], clock, alerter_settings, http)
    assert (busy2.action, busy2.delay) == ("retry", 4.0)
    clock.advance(4)
    [sent] = deliver(db, [nid], clock, alerter_settings, http)
    assert sent.action == "sent"
    assert [r.errcode for r in wecom.attempts()] == [45009, -1, -1, 0]
    # A busy robot past max retries goes to the dead letters.
    service.raise_alert(db, alert("fp-f", source="errs2"), clock(), group_wait=0)
    [nid2] = service.flush_group(db, "errs2", clock(), alerter_settings)
    wecom.push(-1, -1, -1)
    actions = []
    for _ in range(3):
        [o] = deliver(db, [nid2], clock, alerter_settings, http)
        actions.append(o.action)
        clock.advance(o.delay)
    assert actions == ["retry", "retry", "dead"]
    doc = db[store.ALERTS].find_one({"fingerprint": "fp-f"})
    assert doc["delivery"]["state"] == "dead"
    assert [a["outcome"] for a in doc["attempts"]] == ["failed", "failed", "dead"]


def test_no_channel_configured_is_dead_lettered_not_lost(
    db: Any, make_settings: Callable[..., Settings], http: httpx.Client
) -> None:
    settings = make_settings(wecom_webhook_url="", alert_webhook_url="")
    store.ensure_indexes(db)
    clock = Clock(T0)
    service.raise_alert(db, alert("fp-n", source="none"), clock(), group_wait=0)
    ids = service.flush_group(db, "none", clock(), settings)
    [outcome] = deliver(db, ids, clock, settings, http)
    assert outcome.action == "dead" and "RAGTASKS_WECOM_WEBHOOK_URL is not set" in outcome.detail


def test_generic_webhook_channel_beside_wecom(
    db: Any, make_settings: Callable[..., Settings], wecom: FakeWeCom, http: httpx.Client
) -> None:
    settings = make_settings(wecom_webhook_url=wecom.url(), alert_webhook_url=wecom.generic_url)
    store.ensure_indexes(db)
    clock = Clock(T0)
    service.raise_alert(db, alert("fp-g", source="both", title="二者"), clock(), group_wait=0)
    ids = service.flush_group(db, "both", clock(), settings)
    assert len(ids) == 2
    wecom.script_http.append(503)
    outcomes = {o.channel: o.action for o in deliver(db, ids, clock, settings, http)}
    assert outcomes == {"wecom": "sent", "webhook": "retry"}
    clock.advance(2)
    webhook_id = db[store.NOTIFICATIONS].find_one({"channel": "webhook"})["_id"]
    [again] = deliver(db, [webhook_id], clock, settings, http)
    assert again.action == "sent"
    body = wecom.generic[-1]["body"]
    assert body["alerts"][0]["title"] == "二者" and body["status"] == "firing"


def test_periodic_run_resolves_a_cleared_retrieval_rule(
    db: Any, alerter_settings: Settings, redis_client: redis_lib.Redis
) -> None:
    store.ensure_indexes(db)
    windows = RetrievalWindows(redis_client, alerter_settings.key_prefix, 1)
    assert windows.transition("kb-z", "fire", 0)
    clock = Clock(T0)
    service.raise_alert(db, alert("empty_retrieval:kb-z", source="empty_retrieval"), clock(), group_wait=0)
    sweep = service.periodic(db, windows, clock(), alerter_settings)
    assert sweep.resolved == ["empty_retrieval:kb-z"]
    assert windows.firing() == []
    assert db[store.ALERTS].find_one({"fingerprint": "empty_retrieval:kb-z"})["status"] == "resolved"
