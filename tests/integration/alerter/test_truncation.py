"""An oversized Chinese alert goes out as one valid WeCom message, cut on a character boundary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_alerter.format import MARKDOWN_MAX_BYTES, TRUNCATED_MARKER
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from tests.integration.helpers import auth
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import wait_until

# ~8,000 Chinese characters (3 bytes each in UTF-8): about 24,000 bytes, six times the robot's limit.
BODY = ("检索结果为空，知识库需要检查。" * 600)[:7_990]


def test_oversized_chinese_body_is_one_truncated_valid_message(
    worker_env: dict[str, str],
    start_worker: Any,
    make_settings: Callable[..., Settings],
    wecom: FakeWeCom,
) -> None:
    assert len(BODY.encode("utf-8")) > 5 * MARKDOWN_MAX_BYTES
    env = {**worker_env, "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(), "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0"}
    start_worker("alerter", env, concurrency=1)
    settings = make_settings(wecom_webhook_url=wecom.url(), alert_group_wait_seconds=0)
    alert = {"fingerprint": "big:zh", "severity": "critical", "title": "知识库告警", "body": BODY}
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/alerts", json=alert, headers=auth())
        assert r.status_code == 202, r.text
        wait_until(lambda: len(wecom.attempts()) >= 1, 30, message="the robot to be called")
        wait_until(
            lambda: client.get("/v1/alerts", headers=auth()).json()["alerts"][0]["delivery_state"] == "sent",
            15,
            message="the delivery to be recorded",
        )
    # The robot rejects > 4096-byte markdown with 40058: one attempt, accepted the first time.
    assert [a.errcode for a in wecom.attempts()] == [0]
    [message] = wecom.messages()
    raw = message.content.encode("utf-8")
    assert len(raw) <= MARKDOWN_MAX_BYTES
    assert raw.decode("utf-8", errors="strict") == message.content  # no character cut in half
    assert message.content.endswith(TRUNCATED_MARKER)
    assert "知识库告警" in message.content and BODY[:500] in message.content
