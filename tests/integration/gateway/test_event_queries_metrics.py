"""``ragtasks_event_queries_sampled_total`` on a real gateway process and the real Mongo server:
what became of the queries ``POST /v1/retrieval-events`` handed to the review list, counted in
distinct queries (a request's variants of one query are one), every outcome exported from start.
``busy`` and ``failed`` need a Mongo server too slow or gone: tests/unit/gateway/test_query_sampler.py."""

from __future__ import annotations

from typing import Any

import httpx

from ragtasks_core.metrics import EVENT_QUERY_OUTCOMES
from tests.integration.helpers import auth, gateway_client
from tests.support.procs import has_series, metric_value, wait_until

METRIC = "ragtasks_event_queries_sampled_total"
ZH = "如何重置 VPN 密码？"
ZH_FULL_WIDTH = "如何重置　ＶＰＮ　密码?"  # one query with ZH
EN = "How do I reset my VPN password?"


def _outcomes(api: httpx.Client) -> dict[str, float]:
    text = api.get("/metrics").text
    return {outcome: metric_value(text, METRIC, {"outcome": outcome}) for outcome in EVENT_QUERY_OUTCOMES}


def _post(api: httpx.Client, *items: tuple[str, str]) -> None:
    body = {"events": [{"kb_id": kb, "query": q, "n_results": 1, "latency_ms": 5} for kb, q in items]}
    r = api.post("/v1/retrieval-events", json=body, headers=auth())
    assert r.status_code == 202 and r.json()["queries_queued"] is True, r.text


def _counted(api: httpx.Client, before: dict[str, float], written: float) -> dict[str, float]:
    """The outcomes' increase since ``before``, once the background write counted ``written``
    recorded and dropped queries (both are counted together when a write ends)."""
    now = wait_until(
        lambda: _outcomes(api),
        30,
        0.1,
        "the review list's write to be counted",
        until=lambda n: n["recorded"] + n["dropped"] - before["recorded"] - before["dropped"] >= written,
    )
    return {outcome: now[outcome] - before[outcome] for outcome in EVENT_QUERY_OUTCOMES}


def test_every_outcome_starts_at_zero_and_a_batch_counts_its_distinct_queries_recorded(
    worker_env: dict[str, str], start_gateway: Any
) -> None:
    gateway = start_gateway({**worker_env, "RAGTASKS_EVENT_QUERIES_MAX_PER_KB": "1000"})
    with gateway_client(gateway.port) as api:
        text = api.get("/metrics").text
        for outcome in EVENT_QUERY_OUTCOMES:
            assert has_series(text, METRIC, {"outcome": outcome}), outcome
        start = _outcomes(api)
        assert start == dict.fromkeys(EVENT_QUERY_OUTCOMES, 0.0)

        # Five events, three distinct queries: the full-width variant is ZH again, EN comes for
        # two KBs, and a blank query leaves nothing to review.
        _post(api, ("kb-m", ZH), ("kb-m", ZH_FULL_WIDTH), ("kb-m", EN), ("kb-m2", EN), ("kb-m", " \u3000 "))
        first = _counted(api, start, 3)
        assert first == {"recorded": 3.0, "dropped": 0.0, "busy": 0.0, "failed": 0.0}

        # A query the list knows already is recorded again (its count grows), next to a new one.
        after_first = _outcomes(api)
        _post(api, ("kb-m", ZH), ("kb-m", "打印机 卡纸"))
        assert _counted(api, after_first, 2) == {"recorded": 2.0, "dropped": 0.0, "busy": 0.0, "failed": 0.0}
        review = api.get("/v1/kbs/kb-m/queries", params={"source": "events"}, headers=auth()).json()
        assert review["total"] == 3 and sum(q["count"] for q in review["queries"]) == 5


def test_new_queries_of_a_full_kb_are_counted_dropped(worker_env: dict[str, str], start_gateway: Any) -> None:
    gateway = start_gateway({**worker_env, "RAGTASKS_EVENT_QUERIES_MAX_PER_KB": "2"})
    with gateway_client(gateway.port) as api:
        start = _outcomes(api)
        # Four new queries for two places: the two most frequent of the request are kept.
        _post(api, *[("kb-full", q) for q in "abbccd"])
        assert _counted(api, start, 4) == {"recorded": 2.0, "dropped": 2.0, "busy": 0.0, "failed": 0.0}

        # Full: a known query still counts, a new one is dropped; another KB has its own places.
        after_full = _outcomes(api)
        _post(api, ("kb-full", "b"), ("kb-full", "e"), ("kb-other", "e"))
        assert _counted(api, after_full, 3) == {"recorded": 2.0, "dropped": 1.0, "busy": 0.0, "failed": 0.0}
        review = api.get("/v1/kbs/kb-full/queries", params={"source": "events"}, headers=auth()).json()
        assert sorted(q["query"] for q in review["queries"]) == ["b", "c"]
