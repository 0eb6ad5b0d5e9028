"""The WeCom delivery in a trace: its own span with the errcode, the HTTP call without the key."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.fake_wecom import FakeWeCom
from tests.support.otlp_receiver import OtlpReceiver

SECRET_KEY = "good-key-7f3c9d2e"


def test_wecom_delivery_span_has_the_errcode_and_no_key(
    worker_env: dict[str, str], start_worker: Any, celery_client: Any, wecom: FakeWeCom, otlp: OtlpReceiver
) -> None:
    wecom.valid_keys.add(SECRET_KEY)
    marker = f"mk{uuid.uuid4().hex[:12]}"
    env = {
        **worker_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.origin,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(SECRET_KEY),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
    }
    start_worker("alerter", env, concurrency=1)
    celery_client.send_task(
        "ragtasks.alerter.raise_alert",
        kwargs={
            "v": 1,
            "fingerprint": f"fp-{uuid.uuid4().hex[:8]}",
            "severity": "critical",
            "title": f"{marker} disk full",
            "body": f"{marker} the disk of node-3 is full",
            "labels": {},
            "source": "api",
        },
    )
    otlp.wait_for(lambda ss: any(s.name == "ragtasks.alert.deliver" for s in ss), message="the delivery span")
    spans = otlp.settle()
    [deliver] = [s for s in spans if s.name == "ragtasks.alert.deliver"]
    assert deliver.service == "ragtasks-alerter"
    assert deliver.attributes["ragtasks.alert.channel"] == "wecom"
    assert deliver.attributes["ragtasks.wecom.errcode"] == 0
    assert deliver.attributes["ragtasks.alert.outcome"] == "sent"
    [post] = [s for s in spans if s.parent_span_id == deliver.span_id and s.scope.endswith("httpx")]
    url = post.attributes.get("url.full") or post.attributes.get("http.url")
    assert url == wecom.url("REDACTED"), post.attributes
    dumped = json.dumps([s.attributes for s in spans])
    assert SECRET_KEY not in dumped
    assert marker not in dumped
