"""Chat sessions: append messages, read the prompt context, ask for a summary."""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status

from ragtasks_core.contract import ID_PATTERN, TaskName
from ragtasks_core.contract.summarizer import SummarizeSession

from .. import sessions
from ..deps import DbDep, PublisherDep, SettingsDep, require_api_key
from ..publisher import PublishError
from ..schemas import AppendMessages, AppendResult, ContextMessage, SessionContext, TaskAccepted

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/sessions", tags=["sessions"], dependencies=[Depends(require_api_key)])
SessionId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]


async def _publish_summary(db: DbDep, publisher: PublisherDep, session_id: str, task_id: str, reason: str) -> bool:
    """Publish the claimed summary task; on broker failure the outbox sweep publishes it later."""
    try:
        await publisher.publish(
            TaskName.SUMMARIZE_SESSION, SummarizeSession(session_id=session_id, reason=reason), task_id=task_id
        )
    except PublishError:
        return False
    await sessions.mark_published(db, session_id, task_id)
    return True


@router.post("/{session_id}/messages", response_model=AppendResult)
async def append_messages(
    session_id: SessionId, body: AppendMessages, db: DbDep, publisher: PublisherDep, settings: SettingsDep
) -> AppendResult:
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
    appended = await sessions.append(db, session_id, body.messages, trigger_tokens=settings.summary_trigger_tokens)
    if appended.pending_task_id:
        # Published or not, the pending record stands: the append itself has succeeded.
        await _publish_summary(db, publisher, session_id, appended.pending_task_id, "threshold")
    return AppendResult(
        session_id=session_id,
        last_seq=appended.last_seq,
        tokens_since_summary=appended.tokens_since_summary,
        summary_task_id=appended.pending_task_id,
    )


@router.get("/{session_id}/context", response_model=SessionContext)
async def get_context(session_id: SessionId, db: DbDep) -> SessionContext:
    doc = await sessions.get_session(db, session_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"session {session_id!r} not found")
    upto = int(doc.get("summary_upto_seq") or 0)
    messages = await sessions.messages_after(db, session_id, upto)
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
async def summarize(session_id: SessionId, db: DbDep, publisher: PublisherDep, settings: SettingsDep) -> TaskAccepted:
    doc = await sessions.get_session(db, session_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"session {session_id!r} not found")
    task_id = await sessions.claim_pending(db, session_id, reason="manual")
    if task_id is None:
        # One pending summary per session: answer with the one already on its way.
        current = await sessions.get_session(db, session_id)
        pending = (current or {}).get("summary_pending")
        if pending:
            return TaskAccepted(task_id=pending["task_id"])
        task_id = await sessions.claim_pending(db, session_id, reason="manual")
        if task_id is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "a summary is being claimed concurrently; retry")
    if not await _publish_summary(db, publisher, session_id, task_id, "manual"):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "broker unavailable; the summary is recorded and will be published when it returns",
            # By then the sweep has usually published it: a retry finds it pending and returns its id.
            headers={"Retry-After": str(math.ceil(settings.outbox_sweep_interval_seconds))},
        )
    return TaskAccepted(task_id=task_id)
