"""The sliding window and edge-triggered state in real Redis, shared by concurrent 'replicas'."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis as redis_lib
from fastapi.testclient import TestClient

from ragtasks_core.alerting.rules import EmptyRetrievalRule
from ragtasks_core.alerting.window import RetrievalWindows
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from ragtasks_gateway.retrieval_detect import observe
from tests.integration.helpers import auth
from tests.support.procs import metric_value

RULE = EmptyRetrievalRule(threshold=50, window_seconds=3, min_events=20, ratio=0.5, cooldown_seconds=60)


def test_burst_from_four_replicas_fires_exactly_once(settings: Settings, redis_client: Any) -> None:
    fired: list[str] = []
    lock = threading.Lock()

    def replica() -> None:
        # Each "gateway replica" has its own connection, as separate processes would.
        client = redis_lib.Redis.from_url(settings.effective_redis_url, decode_responses=True)
        windows = RetrievalWindows(client, settings.key_prefix, RULE.window_seconds)
        for _ in range(25):  # 25 batches of 10 empty retrievals
            _, transitions = observe(windows, RULE, [("kb-a", True)] * 10)
            with lock:
                fired.extend(t.action for t in transitions)
        client.close()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fired == ["fire"]
    windows = RetrievalWindows(redis_client, settings.key_prefix, RULE.window_seconds)
    counts = windows.record({"kb-a": (0, 0)})["kb-a"]
    assert counts.total == counts.empty == 1000
    assert counts.firing
    assert windows.firing() == ["kb-a"]
    # Bounded memory: three fields per bucket, whatever the traffic.
    assert windows.window_fields("kb-a") <= 3 * windows.buckets


def test_window_slides_and_rule_resolves_once_then_cools_down(settings: Settings, redis_client: Any) -> None:
    windows = RetrievalWindows(redis_client, settings.key_prefix, RULE.window_seconds)
    _, first = observe(windows, RULE, [("kb-b", True)] * 60)
    assert [t.action for t in first] == ["fire"]
    # Non-empty traffic does not resolve while the empties are still in the window.
    _, none = observe(windows, RULE, [("kb-b", False)] * 5)
    assert none == []
    time.sleep(RULE.window_seconds + 1.1)
    sums, resolved = observe(windows, RULE, [("kb-b", False)])
    assert sums["kb-b"].total == 1 and sums["kb-b"].empty == 0
    assert [(t.action, t.alert.status) for t in resolved] == [("resolve", "resolved")]
    assert windows.firing() == []
    # Within the cooldown a new burst does not fire again.
    _, again = observe(windows, RULE, [("kb-b", True)] * 60)
    assert again == []


def test_ratio_needs_min_events_and_kbs_are_independent(settings: Settings, redis_client: Any) -> None:
    windows = RetrievalWindows(redis_client, settings.key_prefix, RULE.window_seconds)
    _, few = observe(windows, RULE, [("kb-c", True)] * 19)
    assert few == []
    sums, fired = observe(windows, RULE, [("kb-c", True), ("kb-d", False)])
    assert [t.kb_id for t in fired] == ["kb-c"]
    assert sums["kb-d"].total == 1 and not sums["kb-d"].firing


def test_kb_label_of_the_retrieval_metrics_is_bounded(make_settings: Callable[..., Settings]) -> None:
    run = uuid.uuid4().hex[:8]
    kbs = [f"kb-{run}-{i}" for i in range(5)]
    settings = make_settings(metrics_max_kbs=2)
    with TestClient(create_app(settings)) as client:

        def events_metric(labels: dict[str, str]) -> float:
            return metric_value(client.get("/metrics").text, "ragtasks_retrieval_events_total", labels)

        other_before = events_metric({"kb": "other", "outcome": "empty"})
        for kb in kbs:
            events = [{"kb_id": kb, "query": "q", "n_results": 0}] * 2
            assert client.post("/v1/retrieval-events", json={"events": events}, headers=auth()).status_code == 202
        text = client.get("/metrics").text
    # The first two KBs keep their own series; the other three are counted under `other`.
    assert [metric_value(text, "ragtasks_retrieval_events_total", {"kb": kb}) for kb in kbs] == [2, 2, 0, 0, 0]
    assert metric_value(text, "ragtasks_retrieval_events_total", {"kb": "other", "outcome": "empty"}) == (
        other_before + 6
    )
    assert metric_value(text, "ragtasks_retrieval_empty_ratio", {"kb": kbs[0]}) == 1.0
    assert f'kb="{kbs[2]}"' not in text and f'kb="{kbs[4]}"' not in text
