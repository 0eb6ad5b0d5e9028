"""The ``sessions`` collection: one document per chat session.

``{_id: session_id, last_seq, tokens_since_summary, summary, summary_upto_seq, summary_model,
summary_version, summary_pending, summary_error?, created_by, created_at, updated_at}``.
``created_by`` is the name of the key whose append created the session (docs/security.md).

``summary_pending`` is the session's single pending-summary slot: ``null``, or
``{task_id, reason, requested_at, published, published_at?}`` written *before* the summarize task is
published (so the outbox sweep can publish it if the broker was away) and released by the
summarizer. The gateway (async) and the sweep (sync) claim it, mark it published and find it with
the builders below; the summarizer moves the watermark with :func:`commit_filter` /
:func:`commit_update`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from ..tracing import current_traceparent
from .indexes import CREATED_BY, Index

COLLECTION = "sessions"

# A session with no pending summary has ``summary_pending: null`` (set on insert, reset by the
# summarizer): the threshold query matches it with ``$type: "null"``, the same expression as the
# partial index below, so the index is usable for it and holds only such sessions.
NO_PENDING_SUMMARY: dict[str, Any] = {"summary_pending": {"$type": "null"}}

INDEXES: tuple[Index, ...] = (
    # The outbox sweep: pending summaries not yet published, or published long ago ...
    Index(COLLECTION, [("summary_pending.published", ASCENDING), ("summary_pending.requested_at", ASCENDING)]),
    Index(COLLECTION, [("summary_pending.published", ASCENDING), ("summary_pending.published_at", ASCENDING)]),
    # ... and sessions past the threshold with no pending summary at all ("missed").
    Index(
        COLLECTION,
        [("tokens_since_summary", ASCENDING), ("updated_at", ASCENDING)],
        {"partialFilterExpression": NO_PENDING_SUMMARY},
    ),
    # Retention (RAGTASKS_SESSION_RETENTION_DAYS): sessions idle since before a cutoff, nightly.
    Index(COLLECTION, [("updated_at", ASCENDING)]),
)

# What a summarize task reads of the session: the watermark and previous summary, and what the
# threshold rule needs (so one read, or the commit's own reply, says whether to fold on).
SUMMARY_STATE = {"summary": 1, "summary_upto_seq": 1, "tokens_since_summary": 1, "last_seq": 1}
# What an append reads back from its reservation: the new range's end and what the threshold rule
# (``past_threshold``) looks at. Not the summary's text: up to a prompt's worth of bytes the server
# would send and the driver decode on every append, for nothing (issue 17).
APPEND_STATE = {"_id": 0, "last_seq": 1, "tokens_since_summary": 1, "summary_upto_seq": 1, "summary_pending": 1}


def by_id(session_id: str) -> dict[str, Any]:
    return {"_id": session_id}


# --- appending -----------------------------------------------------------------------------------


def reserve_update(count: int, tokens: int, now: datetime, owner: str | None = None) -> dict[str, Any]:
    """Reserve ``count`` sequence numbers and add ``tokens`` in one atomic upsert (a new session
    starts with no summary and an empty pending slot, owned by ``owner``, the appending key)."""
    created: dict[str, Any] = {"created_at": now, "summary": None, "summary_upto_seq": 0, "summary_pending": None}
    if owner is not None:
        created[CREATED_BY] = owner
    return {
        "$inc": {"last_seq": count, "tokens_since_summary": tokens},
        "$set": {"updated_at": now},
        "$setOnInsert": created,
    }


def give_back_tokens(tokens: int) -> dict[str, Any]:
    """Undo the token count of an append whose messages could not be stored."""
    return {"$inc": {"tokens_since_summary": -tokens}}


# --- the threshold rule ----------------------------------------------------------------------------


def past_threshold_filter(trigger_tokens: int) -> dict[str, Any]:
    """The threshold rule: at least ``trigger_tokens`` since the last summary, and no summary
    pending. As a query, it is the partial index's own filter plus its first key."""
    return {**NO_PENDING_SUMMARY, "tokens_since_summary": {"$gte": trigger_tokens}}


def past_threshold(doc: Mapping[str, Any], trigger_tokens: int, trigger_messages: int | None = None) -> bool:
    """:func:`past_threshold_filter` on a session document already read (the append's own); with
    ``trigger_messages`` (RAGTASKS_SUMMARY_TRIGGER_MESSAGES), also that many messages since the
    last summary. The outbox sweep's query keeps to tokens; a summary task that ends past either
    rule claims the next one itself (``ragtasks_summarizer.next_summary``)."""
    if doc.get("summary_pending") is not None:
        return False
    if int(doc.get("tokens_since_summary") or 0) >= trigger_tokens:
        return True
    since = int(doc.get("last_seq") or 0) - int(doc.get("summary_upto_seq") or 0)
    return trigger_messages is not None and since >= trigger_messages


# --- the pending-summary slot ----------------------------------------------------------------------


def claim_filter(session_id: str) -> dict[str, Any]:
    """Compare-and-set: the slot is taken only if it is empty."""
    return {"_id": session_id, "summary_pending": None}


def claim_update(task_id: str, reason: str, now: datetime) -> dict[str, Any]:
    pending: dict[str, Any] = {"task_id": task_id, "reason": reason, "requested_at": now, "published": False}
    # The claimer's trace, so a publish by the sweep joins it (docs/tracing.md); None: untraced.
    traceparent = current_traceparent()
    if traceparent is not None:
        pending["traceparent"] = traceparent
    return {"$set": {"summary_pending": pending}}


def held_by(session_id: str, task_id: str) -> dict[str, Any]:
    """The session, if its slot is still held by ``task_id``."""
    return {"_id": session_id, "summary_pending.task_id": task_id}


def published_update(now: datetime) -> dict[str, Any]:
    return {"$set": {"summary_pending.published": True, "summary_pending.published_at": now}}


def release_update(task_id: str, now: datetime, *, error: str | None = None) -> dict[str, Any]:
    """Free the slot; with ``error``, record why the summary failed for good."""
    update: dict[str, Any] = {"$set": {"summary_pending": None}}
    if error is not None:
        update["$set"]["summary_error"] = {"task_id": task_id, "error": error, "at": now}
    return update


def recount_filter(session_id: str, seen: Mapping[str, Any]) -> dict[str, Any]:
    """The session exactly as ``seen``: no append reserved and no summary committed since (both
    set ``updated_at``, a commit moves the watermark), and nothing pending."""
    return {
        "_id": session_id,
        "last_seq": seen.get("last_seq"),
        "summary_upto_seq": seen.get("summary_upto_seq"),
        "updated_at": seen.get("updated_at"),
        **NO_PENDING_SUMMARY,
    }


def recount_update(tokens: int) -> dict[str, Any]:
    """Set the count since the summary to what is stored after the watermark: the tokens of a
    failed append that could not be given back (the server was away) leave with it."""
    return {"$set": {"tokens_since_summary": tokens}}


def unpublished_since(before: datetime) -> dict[str, Any]:
    """Summaries wanted before ``before`` and never published (the publish failed or crashed)."""
    return {"summary_pending.published": False, "summary_pending.requested_at": {"$lt": before}}


def published_before(before: datetime) -> dict[str, Any]:
    """Summaries published before ``before`` and still pending (the message was lost)."""
    return {"summary_pending.published": True, "summary_pending.published_at": {"$lt": before}}


# --- the summary's watermark ----------------------------------------------------------------------


def commit_filter(session_id: str, from_seq: int) -> dict[str, Any]:
    """Compare-and-set on the watermark the task read: two racing tasks never rewind it."""
    return {"_id": session_id, "summary_upto_seq": from_seq}


def commit_and_release_filter(session_id: str, from_seq: int, task_id: str) -> dict[str, Any]:
    """:func:`commit_filter`, and the pending slot empty or held by ``task_id``: a task's last
    commit frees its own slot in the same update, never another task's.

    ``null`` matches an empty slot (a pending record always has a task id); an ``$in`` rather
    than an ``$or`` of the two, which SecantusDB's findAndModify evaluates 2.5x slower."""
    return {**commit_filter(session_id, from_seq), "summary_pending.task_id": {"$in": [task_id, None]}}


def commit_update(
    *, upto_seq: int, summary: str, model: str, tokens_covered: int, now: datetime, release: bool = False
) -> dict[str, Any]:
    """Move the watermark; with ``release`` (and :func:`commit_and_release_filter`), also free
    the pending slot."""
    update: dict[str, Any] = {
        "$set": {
            "summary": summary,
            "summary_upto_seq": upto_seq,
            "summary_model": model,
            "summary_updated_at": now,
            "updated_at": now,
        },
        "$inc": {"tokens_since_summary": -tokens_covered, "summary_version": 1},
    }
    if release:
        update["$set"]["summary_pending"] = None
    return update
