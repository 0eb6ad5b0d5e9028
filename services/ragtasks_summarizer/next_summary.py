"""No stranded sessions: a summary task that ends with work left claims the next summary itself.

A session can be past its threshold with nothing pending when the appends that pushed it there
arrived while a task was running (their claim found the slot taken) or when a task stopped at
its deadline with more to fold. Such a task, after releasing the slot, claims it again by the
same compare-and-set as the gateway and publishes a fresh summarize task -- only when a summary
would fold something now, so an in-flight hole or a session kept whole never loops.

The pending record is written before the publish: if the broker is away, the outbox sweep
publishes it later under the same task id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pymongo.database import Database

from ragtasks_core import outbox
from ragtasks_core.contract.summarizer import SummaryReason
from ragtasks_core.documents import sessions

from . import history, store
from .folding import foldable_run
from .policy import Policy, should_trigger

log = logging.getLogger(__name__)

# (session id, task id, reason) -> None; raises when the broker refuses.
Publish = Callable[[str, str, SummaryReason], None]


def wants_next(
    db: Database, session_id: str, policy: Policy, *, more: bool, now: datetime, seen: store.SessionState | None = None
) -> bool:
    """Whether the session needs another summary now: work left over, or past the threshold,
    and in both cases something a summary would fold.

    ``seen``: the session as this task's last commit left it, that same update having freed the
    slot -- no read needed: appends since then found the slot free and claimed for themselves.
    """
    if seen is None:
        doc = db[sessions.COLLECTION].find_one(
            sessions.by_id(session_id), {**sessions.SUMMARY_STATE, "summary_pending": 1}
        )
        if doc is None or doc.get("summary_pending") is not None:
            return False
        seen = store.state_of(session_id, doc)
    past = should_trigger(policy, tokens_since=seen.tokens_since, messages_since=seen.messages_since)
    if not (more or past):
        return False
    return folds_something(db, session_id, policy, seen.upto_seq, now)


def folds_something(db: Database, session_id: str, policy: Policy, upto: int, now: datetime) -> bool:
    """Whether a summary from watermark ``upto`` would fold anything now.

    Not the same as ``last_seq > upto``: an append whose insert failed leaves its reserved
    numbers a hole (nothing stored there, its tokens possibly still counted). A hole in the
    middle is stepped over once it is old; one at the end has no message after it and is never
    folded. A task claimed for either would find nothing to do, sweep after sweep.
    """
    return bool(foldable_run(policy, history.heads_after(db, session_id, upto), upto, now))


def claim_next(
    db: Database,
    session_id: str,
    policy: Policy,
    publish: Publish,
    *,
    more: bool,
    now: datetime | None = None,
    seen: store.SessionState | None = None,
) -> str | None:
    """Claim and publish the session's next summary if it wants one; the new task id, or None."""
    now = now or datetime.now(UTC)
    if not wants_next(db, session_id, policy, more=more, now=now, seen=seen):
        return None
    reason: SummaryReason = "continue" if more else "threshold"
    task_id = store.claim_pending(db, session_id, reason=reason, now=now)
    if task_id is None:
        return None  # an append claimed it first: that task will do the work
    published = outbox.publish_after_write(
        lambda: publish(session_id, task_id, reason),
        lambda: store.mark_published(db, session_id, task_id, now),
        failed=lambda exc: log.warning("next summary of %s left to the outbox sweep: %s", session_id, exc),
    )
    log.info("claimed the next summary of %s: %s (%s, published=%s)", session_id, task_id, reason, published)
    return task_id
