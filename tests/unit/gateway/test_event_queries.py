"""The review list of real queries: one distinct query per normalised text, bounded per KB."""

from __future__ import annotations

from datetime import UTC, datetime

from ragtasks_core.documents import queries

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ZH = "如何重置 VPN 密码？"
ZH_FULL_WIDTH = "如何重置　ＶＰＮ　密码?"  # full-width letters and space, half-width question mark


def test_width_case_and_spacing_variants_are_one_query() -> None:
    assert queries.event_key(ZH) == queries.event_key(ZH_FULL_WIDTH) == queries.event_key("如何重置 vpn  密码?")
    assert queries.event_key("Reset my VPN password") == queries.event_key("  reset my ｖｐｎ password ")
    assert queries.event_key(ZH) != queries.event_key("如何重置 VPN 账号？")
    assert queries.event_key(" \u3000 ") is None


def test_a_request_folds_to_distinct_queries_keeping_the_first_text() -> None:
    events = [("kb", ZH, False), ("kb", ZH_FULL_WIDTH, True), ("other", ZH, True), ("kb", "Reset VPN", False)]
    events.append(("kb", "   ", True))  # nothing to review
    folded = queries.sample(events)
    assert [(s.kb_id, s.query, s.count, s.empty_count) for s in folded] == [
        ("kb", ZH, 2, 1),
        ("other", ZH, 1, 1),
        ("kb", "Reset VPN", 1, 0),
    ]
    assert folded[0].id == f"kb|{queries.event_key(ZH)}" and len(folded[0].id) <= 128 + 33


def test_a_full_kb_keeps_counting_known_queries_and_drops_new_ones() -> None:
    folded = queries.sample([("kb", "a", False), ("kb", "b", False), ("kb", "c", False), ("kb", "c", True)])
    known = {folded[0].id}
    kept, dropped = queries.admit(folded, known, {"kb": 2}, max_per_kb=3)
    # One place left: the known query, and the most frequent new one ("c", twice).
    assert [s.query for s in kept] == ["a", "c"] and [s.query for s in dropped] == ["b"]
    kept, dropped = queries.admit(folded, known, {"kb": 3}, max_per_kb=3)
    assert [s.query for s in kept] == ["a"] and len(dropped) == 2
    kept, dropped = queries.admit(folded, set(), {}, max_per_kb=1000)  # a KB with none stored yet
    assert len(kept) == 3 and not dropped


def test_updates_count_and_create_with_the_first_text() -> None:
    item = queries.sample([("kb", ZH, True), ("kb", ZH_FULL_WIDTH, False)])[0]
    new = queries.seen_update(item, NOW, new=True)
    assert new["$inc"] == {"count": 2, "empty_count": 1} and new["$set"] == {"last_seen": NOW}
    assert new["$setOnInsert"] == {"kb_id": "kb", "key": item.key, "query": ZH, "first_seen": NOW}
    assert "$setOnInsert" not in queries.seen_update(item, NOW, new=False)


def test_a_review_item_says_how_to_label_it() -> None:
    doc = {"query": ZH, "count": 3, "empty_count": 1, "first_seen": NOW, "last_seen": NOW}
    qid = queries.default_query_id(ZH)
    assert queries.review_item(doc, set()) == {**doc, "query_id": qid, "labelled": False}
    assert queries.review_item(doc, {qid})["labelled"] is True
    assert queries.INDEXES[0].keys[0] == ("kb_id", 1) and queries.INDEXES[0].keys[1:] == queries.REVIEW_ORDER


def test_the_sampler_skips_when_off_or_busy_without_touching_mongo() -> None:
    from typing import Any, cast

    from ragtasks_gateway.query_sampler import QuerySampler

    events = [("kb", ZH, True)]
    no_db = cast(Any, None)  # neither case reaches Mongo (nor needs an event loop)
    assert QuerySampler(no_db, max_per_kb=0).submit(events) is False
    assert QuerySampler(no_db, max_per_kb=1000, max_in_flight=0).submit(events) is False
    assert QuerySampler(no_db, max_per_kb=1000).submit([]) is False


def test_chinese_spacing_trailing_punctuation_and_zero_width_characters_are_one_query() -> None:
    key = queries.event_key("退货政策")
    for variant in (
        "退货 政策",
        "退货政策。",
        "退货政策？",
        "退货政策?",
        "退\u200b货政策",
        "\ufeff退货　政策 ！",
        "退货政策…",
    ):
        assert queries.event_key(variant) == key, variant
    assert queries.event_key("重置 VPN 密码") == queries.event_key("重置VPN密码")
    # Latin words keep their boundaries, and a different question stays a different query.
    assert queries.event_key("reset my vpn") != queries.event_key("resetmyvpn")
    assert queries.event_key("退货政策") != queries.event_key("换货政策")
    assert queries.event_key("。？\u200b") is None
