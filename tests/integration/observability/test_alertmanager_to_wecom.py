"""A Prometheus alerting rule reaches the WeCom robot through a real Alertmanager.

Prometheus (Debian's 2.42) evaluates a one-rule file that is sure to fire (``ragtasks_build_info
== 1`` of the gateway it scrapes, ``for: 0s``) and sends the alert to a real Alertmanager (Debian's
0.25), which runs the shipped ``deploy/alertmanager/alertmanager.yml`` with only the gateway URL,
the token file and the route timings (1 s instead of 30 s / 5 m) changed. Its ``webhook_configs``
receiver posts to the gateway's ``POST /v1/alerts/alertmanager`` with the bearer token read from
``credentials_file``; the alerter worker delivers to the WeCom double. Then the test flips the
rule's switch and the resolution travels the same way (``send_resolved: true``).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from tests.integration.helpers import auth, gateway_client
from tests.support.alertmanager import (
    EXAMPLE_CONFIG,
    AlertmanagerServer,
    check_config,
    example_config,
    route_receivers,
)
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import start_together, wait_until
from tests.support.prometheus import RULES_FILE, PrometheusServer

API_KEY = "test-key-0123456789"
ALERT = "RagtasksTestBuildInfoUp"
SUMMARY = "ragtasks gateway is up (test alert)"
# Alerts about the alert path itself: the example routes them to a second receiver as well.
ALERT_PATH_ALERTS = {"RagtasksAlertsDead", "RagtasksAlertFlushLate"}


# The rule fires while the gateway runs, until the test flips a switch: the first retrieval event
# of KB SWITCH_KB creates that KB's series in the gateway's metrics. (Not a rule-file reload: after
# a reload Prometheus 2.42 re-discovers its Alertmanagers only at the next 5 s discovery tick and
# drops -- does not queue -- the notifications of that window, the resolution among them.)
SWITCH_KB = "resolve-the-test-alert"
RULES = {
    "groups": [
        {
            "name": "ragtasks.test",
            "rules": [
                {
                    "alert": ALERT,
                    "expr": f'ragtasks_build_info{{job="ragtasks"}} == 1 '
                    f'unless on() ragtasks_retrieval_events_total{{kb="{SWITCH_KB}"}}',
                    "for": "0s",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": SUMMARY, "description": "Fires until the test flips its switch."},
                }
            ],
        }
    ]
}


def ragtasks_webhook(config: dict[str, Any]) -> dict[str, Any]:
    [receiver] = [r for r in config["receivers"] if r["name"] == "ragtasks"]
    [webhook] = receiver["webhook_configs"]
    assert isinstance(webhook, dict)
    return webhook


def test_the_example_config_is_valid_and_routes_every_alert_to_ragtasks() -> None:
    assert "SUCCESS" in check_config(EXAMPLE_CONFIG)
    config = example_config()
    webhook = ragtasks_webhook(config)
    assert webhook["url"].endswith("/v1/alerts/alertmanager")
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 200  # the gateway's limit per request
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert webhook["http_config"]["authorization"]["credentials_file"]
    # Every rule's alert goes to ragtasks; the ones about the alert path itself also go elsewhere.
    shipped = yaml.safe_load(RULES_FILE.read_text())
    names = {r["alert"] for g in shipped["groups"] for r in g["rules"] if "alert" in r}
    assert names >= ALERT_PATH_ALERTS
    for name in sorted(names):
        expected = ["oncall-fallback", "ragtasks"] if name in ALERT_PATH_ALERTS else ["ragtasks"]
        assert route_receivers(EXAMPLE_CONFIG, {"alertname": name, "severity": "warning"}) == expected, name


def am_config(gateway_port: int, key_file: Path) -> dict[str, Any]:
    """The example with the test's gateway, token file and 1 s timings; nothing else changed."""
    config = copy.deepcopy(example_config())
    config["route"].update(group_wait="1s", group_interval="1s")
    webhook = ragtasks_webhook(config)
    webhook["url"] = f"http://127.0.0.1:{gateway_port}/v1/alerts/alertmanager"
    webhook["http_config"]["authorization"]["credentials_file"] = str(key_file)
    return config


def test_a_prometheus_rule_reaches_wecom_through_alertmanager(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom, tmp_path: Path
) -> None:
    env = {**worker_env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(), "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0"}
    assert API_KEY in env["RAGTASKS_API_KEYS"].split(",")
    _, gateway = start_together(lambda: start_worker("alerter", env, concurrency=1), lambda: start_gateway(env))
    key_file = tmp_path / "ragtasks-api-key"
    key_file.write_text(f"{API_KEY}\n")  # as a mounted secret usually is: with a newline
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(RULES))

    with (
        AlertmanagerServer(am_config(gateway.port, key_file)) as am,
        PrometheusServer(
            [f"127.0.0.1:{gateway.port}"], scrape_interval="1s", rule_files=[rule_file], alertmanager_url=am.url
        ) as prom,
        gateway_client(gateway.port) as client,
    ):
        wait_until(lambda: len(wecom.messages()) >= 1, 30, 0.2, "the alert at the WeCom robot")

        [message] = wecom.messages()
        assert message.content.startswith("**[告警中:1] alertmanager**"), message.content
        assert SUMMARY in message.content and f"alertname={ALERT}" in message.content
        assert "severity=warning" in message.content and "来源=alertmanager" in message.content

        # Alertmanager held it and notified the ragtasks receiver once, without a failure (a
        # wrong or missing bearer token would be a failed notification: 401).
        [held] = [a for a in am.alerts() if a["labels"]["alertname"] == ALERT]
        assert [r["name"] for r in held["receivers"]] == ["ragtasks"]
        assert am.notifications("webhook") == (1.0, 0.0), am.log()[-2000:]
        assert [a["labels"]["alertname"] for a in prom.alerts() if a["state"] == "firing"] == [ALERT]

        def listed() -> list[dict[str, Any]]:
            response = client.get("/v1/alerts", params={"source": "alertmanager"}, headers=auth(API_KEY))
            assert response.status_code == 200, response.text
            alerts: list[dict[str, Any]] = response.json()["alerts"]
            return alerts

        wait_until(lambda: [a["delivery_state"] for a in listed()] == ["sent"], 10, 0.2, "the delivery to be recorded")
        [alert] = listed()
        assert alert["source"] == "alertmanager" and alert["status"] == "firing"
        assert alert["title"] == SUMMARY and alert["severity"] == "warning"
        assert alert["labels"]["alertname"] == ALERT and alert["labels"]["job"] == "ragtasks"
        assert alert["fingerprint"] == f"alertmanager:{held['fingerprint']}"
        assert alert["delivery_channels"] == {"wecom": "sent"}

        # Still one message a few evaluations and group intervals later: Alertmanager's group
        # ticks (every 1 s) and Prometheus's evaluations do not become new messages.
        time.sleep(2.5)
        assert len(wecom.messages()) == 1 and am.notifications("webhook") == (1.0, 0.0)

        # The rule stops matching: the resolution reaches the robot too.
        switch = {"events": [{"kb_id": SWITCH_KB, "query": "q", "n_results": 3}]}
        assert client.post("/v1/retrieval-events", json=switch, headers=auth(API_KEY)).status_code == 202
        wait_until(lambda: len(wecom.messages()) == 2, 20, 0.2, "the resolution at the WeCom robot")
        resolved = wecom.messages()[1].content
        assert resolved.startswith("**[已恢复:1] alertmanager**") and f"alertname={ALERT}" in resolved, resolved
        wait_until(lambda: [a["status"] for a in listed()] == ["resolved"], 10, 0.2, "the alert to be resolved")
        assert listed()[0]["notified_status"] == "resolved"
        assert am.notifications("webhook") == (2.0, 0.0)
