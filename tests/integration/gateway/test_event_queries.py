"""The review list of real queries (issue 13) on a real gateway process and the real Mongo server:
``POST /v1/retrieval-events`` counts each KB's distinct queries (full-/half-width, case and spacing
variants are one; the first text is kept), bounded per KB, and ``GET /v1/kbs/{kb_id}/queries?
source=events`` pages them most frequent first, ready to be labelled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from ragtasks_core.documents import queries
from ragtasks_gateway.stores import event_queries
from tests.integration.helpers import auth, gateway_client
from tests.support.procs import wait_until

ZH = "如何重置 VPN 密码？"
ZH_FULL_WIDTH = "如何重置　ＶＰＮ　密码?"
EN = "How do I reset my VPN password?"
CHUNKS = {"chunks": [{"chunk_id": "vpn-1", "text": "重置 VPN 密码：打开设置，选择安全。"}]}


def _events(*items: tuple[str, str, int]) -> dict[str, Any]:
    return {"events": [{"kb_id": kb, "query": q, "n_results": n, "latency_ms": 5} for kb, q, n in items]}


def _post(api: httpx.Client, body: dict[str, Any], kb_id: str, counted: int) -> None:
    """Report events; the review list counts them in the background: wait until its counts add
    up to ``counted`` (a write is one bulk write, so no partial state is seen)."""
    r = api.post("/v1/retrieval-events", json=body, headers=auth())
    assert r.status_code == 202 and r.json()["queries_queued"] is True, r.text
    wait_until(
        lambda: sum(q["count"] for q in _review(api, kb_id)["queries"]), 30, 0.1, "counts", until=lambda n: n == counted
    )


def _review(api: httpx.Client, kb_id: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/v1/kbs/{kb_id}/queries", params={"source": "events", **params}, headers=auth())
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_real_queries_are_counted_bounded_and_ready_to_label(worker_env: dict[str, str], start_gateway: Any) -> None:
    gateway = start_gateway({**worker_env, "RAGTASKS_EVENT_QUERIES_MAX_PER_KB": "3"})
    with gateway_client(gateway.port) as api:
        assert api.post("/v1/kbs/kb-vpn/chunks", json=CHUNKS, headers=auth()).status_code == 200
        first = _events(("kb-vpn", ZH, 0), ("kb-vpn", ZH_FULL_WIDTH, 2), ("kb-vpn", EN, 1), ("kb-hr", EN, 0))
        _post(api, first, "kb-vpn", 3)
        _post(
            api, _events(("kb-vpn", "how do i  RESET my vpn password?", 0), ("kb-vpn", "打印机 卡纸", 1)), "kb-vpn", 5
        )

        page = _review(api, "kb-vpn")
        assert page["source"] == "events" and page["total"] == 3 and page["next_offset"] is None
        rows = {q["query"]: q for q in page["queries"]}
        # Most frequent first; of two as frequent, the one seen last (EN, again in the 2nd request).
        assert [q["query"] for q in page["queries"]] == [EN, ZH, "打印机 卡纸"]
        assert rows[ZH]["count"] == 2 and rows[ZH]["empty_count"] == 1  # the full-width variant counted here
        assert rows[EN]["count"] == 2 and rows[EN]["empty_count"] == 1  # the first text is kept
        assert page["queries"][-1]["count"] == 1 and page["queries"][-1]["empty_count"] == 0
        assert all(q["first_seen"] <= q["last_seen"] and q["labelled"] is False for q in page["queries"])

        # Full: known queries keep counting, a new one is dropped (the request succeeds all the same).
        _post(api, _events(("kb-vpn", "新问题", 0), ("kb-vpn", ZH, 0)), "kb-vpn", 6)
        assert _review(api, "kb-vpn")["total"] == 3
        top = _review(api, "kb-vpn")["queries"][0]
        assert (top["query"], top["count"], top["empty_count"]) == (ZH, 3, 2)
        assert top["first_seen"] == rows[ZH]["first_seen"] and top["last_seen"] > rows[ZH]["last_seen"]

        # Labelling one: the POST of its text, with no id, gets the query_id the list showed.
        body = {"query": rows[ZH]["query"], "relevant": {"vpn-1": 1}}
        r = api.post("/v1/kbs/kb-vpn/queries", json=body, headers=auth())
        assert r.status_code == 201 and r.json()["query_id"] == rows[ZH]["query_id"], r.text
        assert next(q for q in _review(api, "kb-vpn")["queries"] if q["query"] == ZH)["labelled"] is True
        labelled = api.get("/v1/kbs/kb-vpn/queries", headers=auth()).json()  # the default source, as before
        assert labelled["source"] == "labelled" and [q["query"] for q in labelled["queries"]] == [ZH]

        # Paged like the other lists; the other KB has its own list.
        second = _review(api, "kb-vpn", offset=1, limit=1)
        assert second["total"] == 3 and second["next_offset"] == 2 and len(second["queries"]) == 1
        assert [q["query"] for q in _review(api, "kb-hr")["queries"]] == [EN]
        assert api.get("/v1/kbs/kb-vpn/queries", params={"source": "bogus"}, headers=auth()).status_code == 422


def test_a_bound_of_zero_turns_sampling_off(worker_env: dict[str, str], start_gateway: Any) -> None:
    gateway = start_gateway({**worker_env, "RAGTASKS_EVENT_QUERIES_MAX_PER_KB": "0"})
    with gateway_client(gateway.port) as api:
        r = api.post("/v1/retrieval-events", json=_events(("kb-off", ZH, 0)), headers=auth())
        assert r.status_code == 202 and r.json()["queries_queued"] is False, r.text
        assert _review(api, "kb-off")["total"] == 0


def test_the_bound_holds_for_concurrent_requests_of_two_gateways(settings: Any, db: Any) -> None:
    """Sixteen requests, each bringing five new queries of one KB, race on two clients (two
    gateway replicas) against a bound of ten: each reads the KB's count before any has written."""
    max_per_kb = 10

    async def race() -> list[event_queries.Recorded]:
        clients: list[AsyncMongoClient[Any]] = [AsyncMongoClient(settings.mongodb_url) for _ in range(2)]
        try:
            now = datetime.now(UTC)
            batches = [
                queries.sample([("kb-race", f"第 {r} 批的问题 {i}", False) for i in range(5)]) for r in range(16)
            ]
            dbs = [clients[r % 2][settings.mongodb_db] for r in range(16)]
            writes = (event_queries.record(d, b, max_per_kb, now) for d, b in zip(dbs, batches, strict=True))
            return list(await asyncio.gather(*writes))
        finally:
            for client in clients:
                await client.close()

    results = asyncio.run(race())
    stored = list(db[queries.EVENTS].find({"kb_id": "kb-race"}))
    assert len(stored) == max_per_kb, len(stored)
    assert sum(r.written for r in results) <= 80 and sum(r.dropped for r in results) >= 70
    # A known query of the full KB still counts.
    again = queries.sample([("kb-race", stored[0]["query"], True)])
    recorded = asyncio.run(_record_once(settings, again, max_per_kb))
    assert recorded.written == 1 and db[queries.EVENTS].count_documents({"kb_id": "kb-race"}) == max_per_kb


async def _record_once(settings: Any, sampled: list[queries.Sampled], max_per_kb: int) -> event_queries.Recorded:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_url)
    try:
        return await event_queries.record(client[settings.mongodb_db], sampled, max_per_kb, datetime.now(UTC))
    finally:
        await client.close()
