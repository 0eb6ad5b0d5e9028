"""The append reads back only ``APPEND_STATE`` of the session: enough for every rule it applies."""

from __future__ import annotations

from typing import Any

import pytest

from ragtasks_core.documents import sessions


def _projected(doc: dict[str, Any]) -> dict[str, Any]:
    """What the server returns for ``doc`` under the projection (inclusion, ``_id`` left out)."""
    return {k: v for k, v in doc.items() if sessions.APPEND_STATE.get(k) == 1}


def _session(**fields: Any) -> dict[str, Any]:
    doc = {
        "_id": "s1",
        "last_seq": 40,
        "tokens_since_summary": 10,
        "summary": "a long summary " * 500,
        "summary_upto_seq": 30,
        "summary_model": "m",
        "summary_pending": None,
        "created_by": "key-1",
    }
    return {**doc, **fields}


@pytest.mark.parametrize(
    "doc",
    [
        _session(),
        _session(tokens_since_summary=5000),
        _session(tokens_since_summary=5000, summary_pending={"task_id": "t", "published": True}),
        _session(last_seq=60),  # 30 messages since the summary (60 since none): not past the message rule
        _session(last_seq=90),  # 60 messages since the summary: past the message rule
        _session(last_seq=90, summary_pending={"task_id": "t", "published": False}),
    ],
)
@pytest.mark.parametrize("trigger_messages", [None, 50])
def test_the_threshold_rule_decides_alike_on_the_projection(doc: dict[str, Any], trigger_messages: int | None) -> None:
    full = sessions.past_threshold(doc, 1000, trigger_messages)
    assert sessions.past_threshold(_projected(doc), 1000, trigger_messages) == full


def test_the_projection_leaves_the_summary_text_out() -> None:
    projected = _projected(_session())
    assert "summary" not in projected and "_id" not in projected
    assert projected["last_seq"] == 40 and projected["tokens_since_summary"] == 10
