"""End to end delivery: 45009 and -1 retried, 93000 dead-lettered and redelivered after the key is
fixed, Alertmanager's five alerts grouped into one message, the webhook key never leaked, hostile
markdown in an alert delivered as plain text, language and time zone taken from the settings."""

from __future__ import annotations

from typing import Any

from tests.integration.helpers import auth, gateway_client
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import start_together, wait_until

BAD_KEY = "bad-key-5f1c9e"
GOOD_KEY = "good-key-77ad03"


def _alert(fp: str, source: str, title: str = "Disk almost full") -> dict[str, Any]:
    return {"fingerprint": fp, "severity": "critical", "title": title, "body": "92% used", "source": source}


def test_invalid_key_is_dead_lettered_then_redelivered_after_the_fix(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom, redis_client: Any
) -> None:
    wecom.valid_keys = {GOOD_KEY}
    env = {**worker_env, "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0", "RAGTASKS_LOG_LEVEL": "DEBUG"}
    bad = {**env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(BAD_KEY)}
    worker, gw = start_together(lambda: start_worker("alerter", bad, concurrency=1), lambda: start_gateway(bad))
    with gateway_client(gw.port) as client:
        r = client.post("/v1/alerts", json=_alert("disk:db-1", "manual"), headers=auth())
        assert r.status_code == 202, r.text

        def dead() -> list[dict[str, Any]]:
            alerts: list[dict[str, Any]] = client.get("/v1/alerts?status=dead", headers=auth()).json()["alerts"]
            return alerts

        wait_until(lambda: len(dead()) == 1, 30, message="the dead letter")
        [letter] = dead()
        assert letter["fingerprint"] == "disk:db-1" and letter["delivery_state"] == "dead"
        assert [(a["outcome"], a["channel"]) for a in letter["attempts"]] == [("dead", "wecom")]
        assert "93000" in letter["attempts"][0]["detail"]
        assert [r.errcode for r in wecom.attempts()] == [93000]  # permanent: tried once
        # Nothing to redeliver for an alert that is not dead.
        assert client.post("/v1/alerts/al-unknown/redeliver", headers=auth()).status_code == 404

        # The key is fixed: the worker restarts with the new setting, redeliver picks it up.
        worker.stop()
        start_worker("alerter", {**env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(GOOD_KEY)}, concurrency=1)
        r = client.post(f"/v1/alerts/{letter['id']}/redeliver", headers=auth())
        assert r.status_code == 202, r.text
        wait_until(lambda: len(wecom.messages()) == 1, 30, message="the redelivered message")
        assert wecom.messages()[0].key == GOOD_KEY and "Disk almost full" in wecom.messages()[0].content
        wait_until(lambda: dead() == [], 10, message="the dead letter to clear")
        wait_until(
            lambda: client.get(f"/v1/alerts/{letter['id']}", headers=auth()).json()["delivery_state"] == "sent",
            10,
            message="the redelivery to be recorded",
        )
        detail = client.get(f"/v1/alerts/{letter['id']}", headers=auth())
        assert detail.json()["delivery_state"] == "sent"
        assert [a["outcome"] for a in detail.json()["attempts"]] == ["dead", "sent"]
        again = client.post(f"/v1/alerts/{letter['id']}/redeliver", headers=auth())
        assert again.status_code == 409
        responses = [detail.text, r.text, client.get("/v1/alerts", headers=auth()).text]
    # The key is a secret: in no API response, in no worker or gateway log.
    redis_keys = list(redis_client.scan_iter(f"{worker_env['RAGTASKS_KEY_PREFIX']}:*"))
    assert any(":ratelimit:wecom:" in k for k in redis_keys)
    for text in [*responses, worker.log_text(), gw.log_text(), *redis_keys]:
        assert BAD_KEY not in text and GOOD_KEY not in text


def test_frequency_limit_and_busy_are_retried_and_alertmanager_is_grouped(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "2",
        "RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS": "3",
        "RAGTASKS_ALERT_RETRY_BASE_SECONDS": "1",
    }
    _, gw = start_together(lambda: start_worker("alerter", env, concurrency=2), lambda: start_gateway(env))
    wecom.push(45009, -1)
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="HighTaskFailureRate"}',
        "status": "firing",
        "receiver": "ragtasks",
        "groupLabels": {},
        "commonLabels": {"severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighTaskFailureRate", "queue": q, "severity": "warning"},
                "annotations": {"summary": f"Task failures on {q}", "description": "success rate below 95%"},
                "startsAt": "2025-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"fp{i}",
            }
            for i, q in enumerate(["summarizer", "evaluator", "alerter", "gateway", "beat"])
        ],
    }
    with gateway_client(gw.port) as client:
        r = client.post("/v1/alerts/alertmanager", json=payload, headers=auth())
        assert r.status_code == 202 and r.json()["accepted"] == 5, r.text
        bad = client.post("/v1/alerts/alertmanager", json={"alerts": []}, headers=auth())
        assert bad.status_code == 422
        wait_until(lambda: len(wecom.messages()) == 1, 40, message="the grouped message")
    attempts = wecom.attempts()
    assert [a.errcode for a in attempts] == [45009, -1, 0]
    # 45009: at least the configured minimum; -1: backoff (base 1 s).
    assert attempts[1].at - attempts[0].at >= 3 - 0.05
    assert attempts[2].at - attempts[1].at >= 1 - 0.05
    content = attempts[2].content
    # Chinese templates and Beijing time by default (RAGTASKS_ALERT_LANGUAGE=zh, RAGTASKS_TIMEZONE=Asia/Shanghai).
    assert content.startswith("**[告警中:5] alertmanager**"), content
    assert "开始于 2025-01-01 08:00:00 UTC+8" in content, content
    for q in ["summarizer", "evaluator", "alerter", "gateway", "beat"]:
        assert f"Task failures on {q}" in content


def test_a_dead_wecom_letter_stays_listed_while_the_webhook_channel_succeeds(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom
) -> None:
    wecom.valid_keys = {GOOD_KEY}
    wecom.script_http.append(503)  # the webhook's success comes after WeCom's dead letter
    env = {**worker_env, "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0", "RAGTASKS_ALERT_RETRY_BASE_SECONDS": "1"}
    env["RAGTASKS_ALERT_WEBHOOK_URL"] = wecom.generic_url
    bad = {**env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(BAD_KEY)}
    worker, gw = start_together(lambda: start_worker("alerter", bad, concurrency=1), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        r = client.post("/v1/alerts", json=_alert("disk:db-2", "both"), headers=auth())
        assert r.status_code == 202, r.text

        def listed(status: str | None = None) -> list[dict[str, Any]]:
            params = {"status": status} if status else {}
            alerts: list[dict[str, Any]] = client.get("/v1/alerts", params=params, headers=auth()).json()["alerts"]
            return alerts

        both_done = {"wecom": "dead", "webhook": "sent"}
        wait_until(lambda: [a["delivery_channels"] for a in listed()] == [both_done], 30, message="both channels")
        assert [g["body"]["alerts"][0]["fingerprint"] for g in wecom.generic] == ["disk:db-2"] * 2  # 503, then 200
        # The later success on the webhook does not hide the dead WeCom letter.
        [letter] = listed("dead")
        assert letter["fingerprint"] == "disk:db-2" and letter["delivery_state"] == "dead"
        assert letter["delivery_channel"] == "webhook"  # the latest attempt was the webhook's
        assert [(a["channel"], a["outcome"]) for a in letter["attempts"]] == [
            ("wecom", "dead"),
            ("webhook", "failed"),
            ("webhook", "sent"),
        ]
        assert client.get(f"/v1/alerts/{letter['id']}", headers=auth()).json()["delivery_state"] == "dead"

        worker.stop()
        start_worker("alerter", {**env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(GOOD_KEY)}, concurrency=1)
        r = client.post(f"/v1/alerts/{letter['id']}/redeliver", headers=auth())
        assert r.status_code == 202 and len(r.json()["notification_ids"]) == 1, r.text  # WeCom's only
        wait_until(lambda: len(wecom.messages()) == 1, 30, message="the redelivered WeCom message")
        # The robot answers before the alerter records the outcome: wait for the record, then look.
        wait_until(
            lambda: client.get(f"/v1/alerts/{letter['id']}", headers=auth()).json()["delivery_state"] == "sent",
            10,
            message="the redelivery to be recorded",
        )
        assert listed("dead") == []
        detail = client.get(f"/v1/alerts/{letter['id']}", headers=auth()).json()
        assert detail["delivery_channels"] == {"wecom": "sent", "webhook": "sent"}
    assert len(wecom.generic) == 2  # the webhook was not sent again
    assert wecom.messages()[0].key == GOOD_KEY and "Disk almost full" in wecom.messages()[0].content


def test_hostile_markdown_in_an_alert_reaches_the_robot_as_plain_text(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_ALERT_LANGUAGE": "en",
        "RAGTASKS_TIMEZONE": "UTC",
        "RAGTASKS_ALERT_LINK_HOSTS": "grafana.example.com",
    }
    _, gw = start_together(lambda: start_worker("alerter", env, concurrency=1), lambda: start_gateway(env))
    title = "[SSO](http://evil.example/login) ![x](http://evil.example/p.png) <http://evil.example/a>"
    alert = {
        **_alert("phish:1", "manual", title=title),
        "body": "[click](javascript:alert(1)) [dashboard](https://grafana.example.com/d/x)",
        "labels": {"runbook": "[r](http://evil.example/r)"},
    }
    with gateway_client(gw.port) as client:
        r = client.post("/v1/alerts", json=alert, headers=auth())
        assert r.status_code == 202, r.text
        wait_until(lambda: len(wecom.messages()) == 1, 30, message="the message")
    content = wecom.messages()[0].content
    assert content.startswith("**[FIRING:1] manual**"), content  # RAGTASKS_ALERT_LANGUAGE=en reached the worker
    assert "SSO (hxxp://evil［.］example/login)" in content, content
    assert "http://evil.example" not in content and "javascript:" not in content, content
    assert "[dashboard](https://grafana.example.com/d/x)" in content  # the listed host still links
    assert content.count("](") == 1, content
