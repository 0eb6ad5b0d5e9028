"""The outbox sweep (``ragtasks.summarizer.sweep_outbox``, run by beat): no trigger is lost.

Each run publishes, with the task id already recorded (so a duplicate is harmless):
1. summaries wanted but not published (``summary_pending.published == false``, older than the
   grace period: the gateway's own publish failed or it crashed before marking it);
2. summaries published long ago and still pending (the message was lost or dead-lettered);
3. sessions past the token threshold with no pending summary (a crash between storing the
   messages and claiming the slot) -- claimed here by the same compare-and-set as the gateway,
   when its stored messages give a summary something to fold. One with nothing to fold is
   past the threshold only by a failed append's tokens: once no append is in flight, its
   count is set again from what is stored;
4. generic outbox records (``ragtasks_core.outbox``) not yet published; expired ones are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast, get_args

from celery import Task, shared_task
from pymongo.database import Database

from ragtasks_core import outbox, tracing
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.common import Payload, as_utc
from ragtasks_core.contract.summarizer import SummarizeSession, SummaryReason
from ragtasks_core.documents import sessions
from ragtasks_core.runtime import get_runtime
from ragtasks_core.settings import Settings
from ragtasks_core.tasks import parse_payload

from . import history, next_summary, store
from .policy import Policy
from .wiring import policy_of

log = logging.getLogger(__name__)
SESSIONS = sessions.COLLECTION

# (task name, kwargs, task id, extra send options) -> None; raises when the broker refuses.
Send = Callable[[str, dict[str, Any], str, dict[str, Any]], None]


def _summarize(send: Send, session_id: str, task_id: str, reason: object) -> None:
    known = cast(SummaryReason, reason) if reason in get_args(SummaryReason) else "sweep"
    kwargs = SummarizeSession(session_id=session_id, reason=known).model_dump(mode="json")
    send(TaskName.SUMMARIZE_SESSION.value, kwargs, task_id, {})


def _publish_pending(
    db: Database, send: Send, session_id: str, task_id: str, reason: object, now: datetime, traceparent: str | None
) -> None:
    """Publish the session's pending summary, then mark it published; raises when the broker refuses.

    The publish joins the trace of whoever claimed the summary (``traceparent``, stored with it).
    """
    with tracing.remote_parent(traceparent):
        outbox.publish_after_write(
            lambda: _summarize(send, session_id, task_id, reason),
            lambda: store.mark_published(db, session_id, task_id, now),
        )


def _claimable(db: Database, doc: dict[str, Any], policy: Policy, stale: datetime, now: datetime) -> bool:
    """A session past the threshold is claimed here only if a summary would fold something now
    (the stored messages say, not ``last_seq``: a failed append's reserved numbers are a hole),
    and not right after one that failed for good."""
    failed_at = (doc.get("summary_error") or {}).get("at")
    if failed_at is not None and failed_at > stale:
        return False
    upto = int(doc.get("summary_upto_seq") or 0)
    if policy.keep_recent_tokens is None and int(doc.get("last_seq") or 0) - upto <= policy.keep_recent_messages:
        return False  # kept verbatim whatever is stored: no read needed
    return next_summary.folds_something(db, doc["_id"], policy, upto, now)


def _recount(db: Database, doc: dict[str, Any], policy: Policy, now: datetime) -> bool:
    """Past the threshold with nothing to fold, and no append for longer than a hole may stay
    in flight: count the tokens again from the stored messages. A failed append whose tokens
    could not be given back would otherwise keep the session here, sweep after sweep, taking a
    place in every batch. Whether it changed anything."""
    updated_at = doc.get("updated_at")
    if not isinstance(updated_at, datetime) or now - as_utc(updated_at) <= policy.hole_grace:
        return False
    upto = int(doc.get("summary_upto_seq") or 0)
    stored = sum(m.tokens for m in history.heads_after(db, doc["_id"], upto))
    if stored == int(doc.get("tokens_since_summary") or 0):
        return False
    result = db[SESSIONS].update_one(sessions.recount_filter(doc["_id"], doc), sessions.recount_update(stored))
    if result.modified_count:
        log.info("session %s: %s tokens since the summary recounted as %s (a failed append's)",
                 doc["_id"], doc.get("tokens_since_summary"), stored)  # fmt: skip
    return bool(result.modified_count)


def sweep_summaries(db: Database, settings: Settings, send: Send, now: datetime) -> dict[str, int]:
    grace = now - timedelta(seconds=settings.outbox_grace_seconds)
    stale = now - timedelta(seconds=settings.outbox_stale_pending_seconds)
    limit = settings.outbox_batch_size
    counts = {"unpublished": 0, "stale": 0, "claimed": 0, "recounted": 0}
    for count, query in (
        ("unpublished", sessions.unpublished_since(grace)),
        ("stale", sessions.published_before(stale)),
    ):
        for doc in db[SESSIONS].find(query, limit=limit):
            pending = doc["summary_pending"]
            reason, traceparent = pending.get("reason"), pending.get("traceparent")
            _publish_pending(db, send, doc["_id"], pending["task_id"], reason, now, traceparent)
            counts[count] += 1
    # The threshold rule as a query is the partial index's own filter: the index serves it.
    missed = {**sessions.past_threshold_filter(settings.summary_trigger_tokens), "updated_at": {"$lt": grace}}
    policy = policy_of(settings)
    for doc in db[SESSIONS].find(missed, limit=limit):
        if not _claimable(db, doc, policy, stale, now):
            counts["recounted"] += _recount(db, doc, policy, now)
            continue
        task_id = store.claim_pending(db, doc["_id"], reason="sweep", now=now)
        if task_id is not None:
            _publish_pending(db, send, doc["_id"], task_id, "sweep", now, None)
            counts["claimed"] += 1
    return counts


def sweep_outbox_records(db: Database, settings: Settings, send: Send, now: datetime) -> dict[str, int]:
    grace = now - timedelta(seconds=settings.outbox_grace_seconds)
    counts = {"outbox": 0, "expired": 0, "held": 0}
    for doc in outbox.unpublished(db, older_than=grace, limit=settings.outbox_batch_size):
        left = outbox.remaining_expiry(doc, now)
        if left is not None and left <= 0:
            outbox.mark_expired(db, doc["_id"])
            counts["expired"] += 1
            continue
        if not outbox.claim(db, doc["_id"], now):  # its writer or another sweep is publishing it
            counts["held"] += 1
            continue
        _publish_record(db, send, doc, {} if left is None else {"expires": left})
        counts["outbox"] += 1
    return counts


def _publish_record(db: Database, send: Send, doc: dict[str, Any], options: dict[str, Any]) -> None:
    """Publish a claimed record and mark it; a failure releases the claim (next sweep) and raises."""
    with tracing.remote_parent(doc.get("traceparent")):  # the writer's trace
        try:
            outbox.publish_after_write(
                partial(send, doc["task"], doc["kwargs"], doc["_id"], options),
                partial(outbox.mark_published, db, doc["_id"]),
            )
        except Exception as exc:
            outbox.mark_failed(db, doc["_id"], repr(exc))
            raise


def sweep(db: Database, settings: Settings, send: Send, now: datetime | None = None) -> dict[str, int]:
    """One sweep; stops at the first publish failure (the broker is still away: next run)."""
    now = now or datetime.now(UTC)
    return {**sweep_summaries(db, settings, send, now), **sweep_outbox_records(db, settings, send, now)}


@shared_task(bind=True, name=TaskName.SWEEP_OUTBOX.value)
def sweep_outbox(self: Task, **kwargs: Any) -> dict[str, int]:
    """Publish every wanted-but-unpublished summary and outbox record (see the module doc).

    Idempotent: it republishes the task ids already recorded, and the summarizer's
    compare-and-set makes a duplicate summarize message harmless (a summary wanted twice is
    summarized once).
    A publish failure ends the run (the broker is away); the next run picks up where it left.
    Outbox records are claimed one at a time, so two sweeps never publish the same record.
    """
    parse_payload(Payload, kwargs)
    rt = get_runtime()

    def send(task: str, task_kwargs: dict[str, Any], task_id: str, options: dict[str, Any]) -> None:
        outbox.send(self.app, task, task_kwargs, task_id, **options)

    counts = sweep(rt.db, rt.settings, send)
    if any(counts.values()):
        log.info("outbox sweep published %s", counts)
    return counts
