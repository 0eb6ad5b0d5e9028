"""End to end: retrieval events -> gateway rule -> alerter worker -> fake WeCom, with beat clearing it."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

from tests.conftest import LOG_DIR
from tests.integration.helpers import auth, gateway_client
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import metric_value, start_beat, start_together, wait_until

WINDOW = 3


def test_burst_of_1000_empty_retrievals_is_one_alert_and_one_resolved(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, processes: list[Any], wecom: FakeWeCom
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_EMPTY_RETRIEVAL_WINDOW_SECONDS": str(WINDOW),
        "RAGTASKS_EMPTY_RETRIEVAL_THRESHOLD": "50",
        "RAGTASKS_EMPTY_RETRIEVAL_COOLDOWN_SECONDS": "120",
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "1",
        "RAGTASKS_ALERT_FLUSH_INTERVAL_SECONDS": "1",
    }
    _, *gateways = start_together(  # two gateway replicas share the Redis window
        lambda: start_worker("alerter", env, concurrency=2), lambda: start_gateway(env), lambda: start_gateway(env)
    )
    beat = start_beat(env, LOG_DIR)
    processes.append(beat)

    def post(i: int) -> Any:
        port = gateways[i % 2].port
        events = [{"kb_id": "kb-burst", "query": f"q{i}-{j}", "n_results": 0, "latency_ms": 12.5} for j in range(100)]
        with gateway_client(port) as client:
            r = client.post("/v1/retrieval-events", json={"events": events}, headers=auth())
        assert r.status_code == 202, r.text
        return r.json()

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(10)))
    burst_seconds = time.monotonic() - started
    fired = [a for answer in answers for a in answer["alerts"]]
    assert fired == [{"kb_id": "kb-burst", "status": "firing"}]

    wait_until(lambda: len(wecom.messages()) >= 1, 30, message="the firing message")
    first = wecom.messages()[0]
    assert "[告警中:1] empty_retrieval" in first.content and "kb-burst" in first.content
    # The window empties after WINDOW seconds; beat's flush finds the rule cleared.
    wait_until(lambda: len(wecom.messages()) >= 2, 40, message="the resolved message")
    second = wecom.messages()[1]
    assert "[已恢复:1] empty_retrieval" in second.content
    # The resolved message shows the window as it is now, not the firing numbers.
    assert "0 次检索中有 0 次无结果" in second.content and "规则" not in second.content
    time.sleep(3)  # nothing more comes: no storm, no repeat
    assert len(wecom.messages()) == 2
    print(f"burst of 1000 in {burst_seconds:.2f}s; resolved {second.at - first.at:.1f}s after firing")

    with gateway_client(gateways[0].port) as client:
        listed = client.get("/v1/alerts", params={"status": "resolved"}, headers=auth()).json()["alerts"]
        [doc] = [a for a in listed if a["fingerprint"] == "empty_retrieval:kb-burst"]
        assert doc["delivery_state"] == "sent" and doc["notified_status"] == "resolved"
        assert [a["outcome"] for a in doc["attempts"]] == ["sent", "sent"]
        # A malformed batch is refused with a reason.
        bad = client.post("/v1/retrieval-events", json={"events": [{"kb_id": "$bad", "query": "q"}]}, headers=auth())
        assert bad.status_code == 422
        too_many = [{"kb_id": "k", "query": "q", "n_results": 1}] * 1001
        big = client.post("/v1/retrieval-events", json={"events": too_many}, headers=auth())
        assert big.status_code == 413 and "at most 1000" in big.text
        metrics = client.get("/metrics").text
    # Each gateway counts its own events; together they counted all 1000 empties.
    total = metric_value(metrics, "ragtasks_retrieval_events_total", {"kb": "kb-burst", "outcome": "empty"})
    with gateway_client(gateways[1].port) as client:
        other_metrics = client.get("/metrics").text
    total += metric_value(other_metrics, "ragtasks_retrieval_events_total", {"kb": "kb-burst", "outcome": "empty"})
    assert total == 1000
    assert metric_value(metrics, "ragtasks_retrieval_events_total", {"kb": "kb-burst", "outcome": "nonempty"}) == 0
    # Every retrieval of the burst was empty: each gateway's last batch saw a window of ratio 1.
    for text in (metrics, other_metrics):
        assert "ragtasks_retrieval_empty_ratio{" in text
        assert metric_value(text, "ragtasks_retrieval_empty_ratio", {"kb": "kb-burst"}) == 1.0
