"""Silences: mute the alerts that match, for a while (Alertmanager's semantics).

``POST /v1/silences`` creates one, ``GET /v1/silences`` lists them with their state, ``DELETE
/v1/silences/{id}`` expires one. The alerter reads them on every routing decision: a silenced alert
is recorded with ``silenced_by`` and not sent; when the silence ends and it still fires, it is
sent. Silences act only with a routes file (``RAGTASKS_ALERT_ROUTES_FILE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from ragtasks_core.alerting.silences import Silence, SilenceError, check_span, parse_silence_matchers
from ragtasks_core.contract import ID_PATTERN

from ..deps import CallerDep, DbDep, require_api_key
from ..models.silences import SilenceIn, SilenceList, SilenceOut
from ..safe_body import SafeJsonRoute
from ..stores import silences as silences_store

router = APIRouter(
    prefix="/v1/silences", tags=["silences"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
SilenceId = Annotated[str, Path(pattern=ID_PATTERN)]


def _out(doc: dict[str, Any], now: datetime) -> SilenceOut:
    state = Silence(doc["_id"], (), doc["starts_at"], doc["ends_at"]).state(now)
    return SilenceOut(id=doc["_id"], state=state, **{k: v for k, v in doc.items() if k != "_id"})


@router.post("", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
async def create_silence(body: SilenceIn, db: DbDep, caller: CallerDep) -> SilenceOut:
    """Create a silence; its ``created_by`` is the calling key's name (a ``created_by`` in the
    body is accepted for compatibility and ignored: a caller must not write another's name)."""
    now = datetime.now(UTC)
    starts_at = body.starts_at or now
    try:
        matchers = parse_silence_matchers(body.matchers)
        check_span(starts_at, body.ends_at, now)
    except SilenceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    doc = await silences_store.create(
        db,
        matchers,
        starts_at=starts_at,
        ends_at=body.ends_at,
        comment=body.comment,
        created_by=caller.name,
        now=now,
    )
    return _out(doc, now)


@router.get("", response_model=SilenceList)
async def list_silences(db: DbDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> SilenceList:
    now = datetime.now(UTC)
    return SilenceList(silences=[_out(d, now) for d in await silences_store.list_silences(db, limit=limit)])


@router.delete("/{silence_id}", response_model=SilenceOut)
async def expire_silence(silence_id: SilenceId, db: DbDep) -> SilenceOut:
    """Expire the silence now (an expired one is returned as it is)."""
    now = datetime.now(UTC)
    doc = await silences_store.expire(db, silence_id, now)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"silence {silence_id!r} not found")
    return _out(doc, now)
