"""Asking for a session's summary: claim its pending slot, publish, mark it published.

The one protocol behind ``POST /v1/sessions/{id}/messages`` (the threshold) and
``POST /v1/sessions/{id}/summarize`` (by hand); the outbox sweep follows the same steps with the
sync twins (``ragtasks_summarizer.sweep``). The slot is written before the publish, so a broker
outage delays the summary and never loses it: the sweep publishes it with the same task id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.summarizer import SummarizeSession, SummaryReason

from .publisher import Publisher
from .stores import sessions


@dataclass(frozen=True)
class Requested:
    task_id: str
    # published: on its way now; recorded: the broker was away, the sweep publishes it;
    # pending: another request's summary was already on its way (this one is answered with it).
    outcome: Literal["published", "recorded", "pending"]


async def publish_pending(
    db: AsyncDatabase, publisher: Publisher, session_id: str, task_id: str, reason: SummaryReason
) -> bool:
    """Publish the claimed summary task; on broker failure the outbox sweep publishes it later."""
    return await publisher.publish_after_write(
        TaskName.SUMMARIZE_SESSION,
        SummarizeSession(session_id=session_id, reason=reason),
        task_id=task_id,
        mark=lambda: sessions.mark_published(db, session_id, task_id),
    )


async def request(db: AsyncDatabase, publisher: Publisher, session_id: str, reason: SummaryReason) -> Requested | None:
    """Claim the slot and publish; None when another request holds the slot."""
    task_id = await sessions.claim_pending(db, session_id, reason=reason)
    if task_id is None:
        return None
    published = await publish_pending(db, publisher, session_id, task_id, reason)
    return Requested(task_id, "published" if published else "recorded")


async def request_or_join(
    db: AsyncDatabase, publisher: Publisher, session_id: str, reason: SummaryReason
) -> Requested | None:
    """One pending summary per session: a new one, or the one already on its way. None when the
    slot changed hands twice meanwhile (a summary finished and another was claimed)."""
    requested = await request(db, publisher, session_id, reason)
    if requested is not None:
        return requested
    current = await sessions.get_session(db, session_id)
    pending = (current or {}).get("summary_pending")
    if pending:
        return Requested(pending["task_id"], "pending")
    return await request(db, publisher, session_id, reason)
