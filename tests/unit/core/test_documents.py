"""The pure document builders of ``ragtasks_core.documents``: one shape whoever writes it."""

from __future__ import annotations

from datetime import UTC, datetime

from ragtasks_core.documents import evaluations, sessions

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_an_evaluation_has_one_shape_from_the_api_and_from_nightly() -> None:
    api = evaluations.new_evaluation(
        "ev-1", "kb", sample_size=50, k=[1, 5], seed=7, trigger="api", now=NOW, task_id="t-1"
    )
    nightly = evaluations.new_evaluation(
        "nightly-2030-01-01-kb", "kb", sample_size=50, k=[1, 5], seed=None, trigger="nightly", now=NOW,
        maintenance_error=ValueError("x" * 600),
    )  # fmt: skip
    common = {"_id", "kb_id", "status", "sample_size", "k", "seed", "trigger", "created_at"}
    assert set(api) == common | {"task_id"} and set(nightly) == common | {"maintenance_error"}
    assert api["status"] == nightly["status"] == evaluations.QUEUED
    assert nightly["maintenance_error"].startswith("ValueError: x") and len(nightly["maintenance_error"]) == 500


def test_the_pending_slot_is_claimed_published_and_released_on_one_field() -> None:
    claim = sessions.claim_update("t-1", "manual", NOW)["$set"]["summary_pending"]
    assert claim == {"task_id": "t-1", "reason": "manual", "requested_at": NOW, "published": False}
    assert sessions.claim_filter("s") == {"_id": "s", "summary_pending": None}
    assert set(sessions.published_update(NOW)["$set"]) == {"summary_pending.published", "summary_pending.published_at"}
    released = sessions.release_update("t-1", NOW, error="boom")["$set"]
    assert released == {"summary_pending": None, "summary_error": {"task_id": "t-1", "error": "boom", "at": NOW}}


def test_the_threshold_rule_on_a_document() -> None:
    assert sessions.past_threshold({"tokens_since_summary": 100, "summary_pending": None}, 100)
    assert not sessions.past_threshold({"tokens_since_summary": 99, "summary_pending": None}, 100)
    assert not sessions.past_threshold({"tokens_since_summary": 500, "summary_pending": {"task_id": "t"}}, 100)
    assert sessions.past_threshold_filter(100) == {
        "summary_pending": {"$type": "null"},
        "tokens_since_summary": {"$gte": 100},
    }
