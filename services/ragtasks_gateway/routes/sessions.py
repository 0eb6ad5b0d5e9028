"""Chat sessions: append messages, read the prompt context, ask for a summary."""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from ragtasks_core import metrics
from ragtasks_core.contract import ID_PATTERN

from .. import limits, ownership, summary_requests
from ..deps import CallerDep, ContextDep, DbDep, PublisherDep, SettingsDep, require_api_key
from ..models.sessions import (
    AppendMessages,
    AppendResult,
    ContextMessage,
    SessionContext,
    SessionDeleted,
    SessionSummaries,
    SummaryRecord,
)
from ..models.tasks import TaskAccepted
from ..safe_body import SafeJsonRoute
from ..stores import session_history, sessions

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/sessions", tags=["sessions"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]


def _not_found(session_id: str) -> HTTPException:
    # The same answer for a session of another key (RAGTASKS_API_KEY_ISOLATION) as for none.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"session {session_id!r} not found")


async def _visible_session(db: DbDep, session_id: str, caller: CallerDep) -> dict[str, Any]:
    doc = await sessions.get_session(db, session_id)
    if not ownership.may_see(doc, caller):
        raise _not_found(session_id)
    assert doc is not None
    return doc


@router.post("/{session_id}/messages", response_model=AppendResult)
async def append_messages(session_id: SessionId, body: AppendMessages, ctx: ContextDep) -> AppendResult:
    """Append messages; a new session id is created by, and then belongs to, this key."""
    settings = ctx.settings
    if len(body.messages) > settings.max_messages_per_request:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"at most {settings.max_messages_per_request} messages per request, got {len(body.messages)}",
        )
    for i, message in enumerate(body.messages):
        if len(message.content) > settings.max_message_chars:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"messages[{i}].content has {len(message.content)} characters; the limit is "
                f"{settings.max_message_chars}",
            )
    limits.require_total("the messages", sum(len(m.content) for m in body.messages), limits.message_chars(settings))
    try:
        appended = await sessions.append(
            ctx.collections,
            session_id,
            body.messages,
            trigger_tokens=settings.summary_trigger_tokens,
            trigger_messages=settings.summary_trigger_messages,
            caller=ctx.caller,
            insert_timeout=settings.summary_hole_grace_seconds / 2,
        )
    except ownership.NotYours:
        raise _not_found(session_id) from None
    requested = None
    if appended.past_threshold:
        # Published or not, the pending record stands: the append itself has succeeded.
        requested = await summary_requests.request(ctx.db, ctx.publisher, session_id, "threshold")
    return AppendResult(
        session_id=session_id,
        last_seq=appended.last_seq,
        tokens_since_summary=appended.tokens_since_summary,
        summary_task_id=requested.task_id if requested else None,
    )


MaxTokens = Annotated[
    int | None,
    Query(ge=1, le=100_000_000, description="only the newest messages whose tokens (as stored) add up to at most this"),
]
SummaryLimit = Annotated[int, Query(ge=1, le=1000, description="at most this many, the newest")]


@router.get("/{session_id}/context", response_model=SessionContext)
async def get_context(
    session_id: SessionId, db: DbDep, caller: CallerDep, settings: SettingsDep, max_tokens: MaxTokens = None
) -> SessionContext:
    """The summary and the gap-free run of messages after it (a message still being written
    ends the run), optionally only the newest within ``max_tokens``."""
    doc = await _visible_session(db, session_id, caller)
    upto = int(doc.get("summary_upto_seq") or 0)
    messages = await session_history.context_messages(
        db, session_id, upto, max_tokens=max_tokens, hole_grace=settings.summary_hole_grace
    )
    return SessionContext(
        session_id=session_id,
        summary=doc.get("summary"),
        summary_upto_seq=upto,
        summary_model=doc.get("summary_model"),
        messages=[ContextMessage(seq=m["seq"], role=m["role"], content=m["content"]) for m in messages],
        tokens_since_summary=int(doc.get("tokens_since_summary") or 0),
        summary_pending=doc.get("summary_pending") is not None,
    )


@router.post("/{session_id}/summarize", response_model=TaskAccepted, status_code=status.HTTP_202_ACCEPTED)
async def summarize(
    session_id: SessionId, db: DbDep, publisher: PublisherDep, settings: SettingsDep, caller: CallerDep
) -> TaskAccepted:
    await _visible_session(db, session_id, caller)
    requested = await summary_requests.request_or_join(db, publisher, session_id, "manual")
    if requested is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "a summary is being claimed concurrently; retry")
    if requested.outcome == "recorded":
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "broker unavailable; the summary is recorded and will be published when it returns",
            # By then the sweep has usually published it: a retry finds it pending and returns its id.
            headers={"Retry-After": str(math.ceil(settings.outbox_sweep_interval_seconds))},
        )
    return TaskAccepted(task_id=requested.task_id)


@router.get("/{session_id}/summaries", response_model=SessionSummaries)
async def list_summaries(
    session_id: SessionId, db: DbDep, caller: CallerDep, limit: SummaryLimit = 100
) -> SessionSummaries:
    """The session's rolling summaries, oldest first: the range each covers, the model, when."""
    await _visible_session(db, session_id, caller)
    found = await session_history.committed_summaries(db, session_id, limit=limit)
    return SessionSummaries(session_id=session_id, summaries=[SummaryRecord(**doc) for doc in found])


@router.delete("/{session_id}", response_model=SessionDeleted)
async def delete_session(session_id: SessionId, db: DbDep, caller: CallerDep) -> SessionDeleted:
    """Delete the session, its messages, summaries and pending summary (idempotent). A summary
    task already queued or running for it writes nothing. Another key's session answers as a
    missing one does (200, ``deleted: false``) and is left alone."""
    deleted = await session_history.delete_session(db, session_id, caller)
    if deleted.session:
        metrics.SESSIONS_DELETED.labels("request").inc()
        log.info("session %s deleted (%d messages, %d summaries)", session_id, deleted.messages, deleted.summaries)
    return SessionDeleted(
        session_id=session_id,
        deleted=deleted.session,
        messages_deleted=deleted.messages,
        summaries_deleted=deleted.summaries,
    )
