"""Knowledge bases: upsert chunks in batches, read counts, labelled and real queries.

Under ``RAGTASKS_API_KEY_ISOLATION`` a KB is its creator's: another confined key gets 404 on it
and on everything under it, and a write to a new KB id creates it for the writer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from ragtasks_core import documents
from ragtasks_core.contract import ID_PATTERN
from ragtasks_core.contract.common import UtcDatetime
from ragtasks_core.documents.queries import default_query_id

from .. import limits, ownership
from ..deps import CallerDep, DbDep, SettingsDep, require_api_key
from ..models.kbs import (
    NO_URL,
    DeleteChunks,
    DeleteResult,
    KbSettings,
    KbStats,
    LabelledQuery,
    UpsertChunks,
    UpsertResult,
)
from ..safe_body import SafeJsonRoute
from ..stores import event_queries, kbs

router = APIRouter(
    prefix="/v1/kbs", tags=["knowledge bases"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
KbId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]
ChunkId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]


def _not_found(kb_id: str) -> HTTPException:
    # The same answer for another key's KB (RAGTASKS_API_KEY_ISOLATION) as for none.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {kb_id!r} not found")


async def kb_of(db: DbDep, kb_id: str, caller: CallerDep) -> None:
    """For a confined caller, 404 unless the KB exists and is its own: a missing KB and another
    key's answer alike (same status, same text), so reads and deletes never tell them apart.
    An unconfined caller is not looked up (a missing KB reads as empty, as it always did)."""
    if caller.confined and not ownership.may_see(await kbs.kb_doc(db, kb_id), caller):
        raise _not_found(kb_id)


async def _claim(db: DbDep, kb_id: str, caller: CallerDep) -> None:
    try:
        await kbs.claim(db, kb_id, caller)
    except ownership.NotYours:
        raise _not_found(kb_id) from None


async def _ensure_indexes(request: Request, db: DbDep) -> None:
    # Created at start-up already, unless Mongo was away then: the unique chunk key must exist
    # before the first upsert relies on it.
    if not getattr(request.app.state, "kb_indexes_ready", False):
        await documents.ensure_indexes_async(db)
        request.app.state.kb_indexes_ready = True


@router.post("/{kb_id}/chunks", response_model=UpsertResult, dependencies=[Depends(_ensure_indexes)])
async def upsert_chunks(
    kb_id: KbId, body: UpsertChunks, db: DbDep, settings: SettingsDep, caller: CallerDep
) -> UpsertResult:
    """Insert or update chunks (idempotent on ``chunk_id``); unchanged chunks are not rewritten.
    A new KB id is created by, and then belongs to, this key."""
    if len(body.chunks) > settings.kb_max_chunks_per_request:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"at most {settings.kb_max_chunks_per_request} chunks per request, got {len(body.chunks)}; send batches",
        )
    seen: set[str] = set()
    for i, chunk in enumerate(body.chunks):
        if len(chunk.text) > settings.kb_max_chunk_chars:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"chunks[{i}].text has {len(chunk.text)} characters; the limit is {settings.kb_max_chunk_chars}",
            )
        if chunk.chunk_id in seen:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"chunks[{i}].chunk_id {chunk.chunk_id!r} appears twice"
            )
        seen.add(chunk.chunk_id)
    limits.require_total("the chunks", sum(len(c.text) for c in body.chunks), limits.chunk_chars(settings))
    await _claim(db, kb_id, caller)
    counts = await kbs.upsert_chunks(db, kb_id, [c.model_dump() for c in body.chunks])
    return UpsertResult(
        kb_id=kb_id,
        received=len(body.chunks),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        version=counts.version,
    )


@router.get("/{kb_id}", response_model=KbStats)
async def get_kb(kb_id: KbId, db: DbDep, caller: CallerDep) -> KbStats:
    stats = await kbs.kb_stats(db, kb_id)
    if not ownership.may_see(stats, caller):
        raise _not_found(kb_id)
    return KbStats(**(stats or {}))


@router.put("/{kb_id}", response_model=KbStats)
async def put_kb(kb_id: KbId, body: KbSettings, db: DbDep, settings: SettingsDep, caller: CallerDep) -> KbStats:
    """The KB's settings: its own ``retriever`` (``{"kind": "http"|"bm25"|"vector", "url"?,
    "ids_field"?, "top_k"?}``; ``null``: the deployment's ``RAGTASKS_RETRIEVER``). Evaluations of
    the KB use it unless they name one themselves."""
    spec = body.retriever.model_dump(exclude_none=True) if body.retriever is not None else None
    if spec is not None and spec["kind"] == "http" and not spec.get("url") and not settings.retriever_url:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_URL)
    await _claim(db, kb_id, caller)
    await kbs.set_retriever(db, kb_id, spec, datetime.now(UTC))
    return await get_kb(kb_id, db, caller)


@router.delete("/{kb_id}/chunks/{chunk_id}", response_model=DeleteResult)
async def delete_chunk(kb_id: KbId, chunk_id: ChunkId, db: DbDep, caller: CallerDep) -> DeleteResult:
    """Delete one chunk: it is no longer sampled, and it leaves the vector index at the next alignment."""
    await kb_of(db, kb_id, caller)
    deleted, version = await kbs.delete_chunks(db, kb_id, [chunk_id])
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"chunk {chunk_id!r} not found in knowledge base {kb_id!r}")
    return DeleteResult(kb_id=kb_id, deleted=deleted, not_found=[], version=version)


@router.post("/{kb_id}/chunks:delete", response_model=DeleteResult)
async def delete_chunks(
    kb_id: KbId, body: DeleteChunks, db: DbDep, settings: SettingsDep, caller: CallerDep
) -> DeleteResult:
    """Delete many chunks at once (``{"chunk_ids": [...]}``); ids not found are listed, not an error."""
    await kb_of(db, kb_id, caller)
    if len(body.chunk_ids) > settings.kb_max_chunks_per_request:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"at most {settings.kb_max_chunks_per_request} chunk ids per request, got {len(body.chunk_ids)}",
        )
    wanted = sorted(set(body.chunk_ids))
    deleted, version = await kbs.delete_chunks(db, kb_id, wanted)
    gone = set(deleted)
    return DeleteResult(
        kb_id=kb_id, deleted=sorted(gone), not_found=[i for i in wanted if i not in gone], version=version
    )


@router.get("/{kb_id}/merges")
async def list_merges(
    kb_id: KbId,
    db: DbDep,
    caller: CallerDep,
    since: Annotated[
        UtcDatetime | None, Query(description="ISO 8601 (without a zone: UTC); only changes after it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    """What maintenance merged into what since ``since``, oldest first, so the RAG service can
    apply it (``merged_into`` null: the chunk stands for itself again). Pass the last ``at`` as
    the next ``since``."""
    await kb_of(db, kb_id, caller)
    merges = await kbs.merges_since(db, kb_id, since, limit)
    for merge in merges:
        merge["at"] = merge["at"].replace(tzinfo=UTC) if merge["at"].tzinfo is None else merge["at"]
    return {"kb_id": kb_id, "merges": merges, "next_since": merges[-1]["at"] if merges else since}


@router.post("/{kb_id}/queries", status_code=status.HTTP_201_CREATED)
async def add_query(kb_id: KbId, body: LabelledQuery, db: DbDep, caller: CallerDep) -> dict[str, Any]:
    """A labelled query of the KB (BEIR's qrels): ``{"query", "relevant": {chunk_id: grade},
    "query_id"?}``; a grade > 0 is relevant, 0 judged not relevant. Idempotent on ``query_id``
    (default: derived from the text). Evaluations with ``"questions": "labelled"`` sample them."""
    await kb_of(db, kb_id, caller)
    if await kbs.active_chunk_count(db, kb_id) is None:
        raise _not_found(kb_id)
    query_id = body.query_id or default_query_id(body.query)
    created = await kbs.upsert_query(db, kb_id, query_id, body.query, body.relevant, "api")
    return {"kb_id": kb_id, "query_id": query_id, "created": created}


Source = Literal["labelled", "events"]


@router.get("/{kb_id}/queries")
async def list_queries(
    kb_id: KbId,
    db: DbDep,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    source: Annotated[Source, Query(description="labelled (default) or events: the review list")] = "labelled",
) -> dict[str, Any]:
    """A page of the KB's queries. ``labelled``: its labelled queries by query id (``ragtasks
    eval export`` reads them). ``events``: the review list, the distinct real queries retrieval
    events carried, most frequent first, each with its ``count``, ``empty_count`` (retrieved
    nothing), ``first_seen``, ``last_seen``, the ``query_id`` a ``POST`` of its text gets, and
    whether that is ``labelled`` already."""
    await kb_of(db, kb_id, caller)  # events of a KB id nobody created: only unconfined callers read them
    page: list[dict[str, Any]]
    if source == "events":
        page, total = await event_queries.review_page(db, kb_id, offset, limit)
    else:
        page, total = await kbs.queries_page(db, kb_id, offset, limit)
    following = offset + len(page)
    return {
        "kb_id": kb_id,
        "source": source,
        "queries": page,
        "total": total,
        "next_offset": following if following < total else None,
    }
