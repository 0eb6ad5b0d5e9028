"""Knowledge bases: upsert chunks in batches, read counts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from ragtasks_core import documents
from ragtasks_core.contract import ID_PATTERN

from .. import limits
from ..deps import DbDep, SettingsDep, require_api_key
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
from ..stores import kbs

router = APIRouter(
    prefix="/v1/kbs", tags=["knowledge bases"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
KbId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]
ChunkId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]


async def _ensure_indexes(request: Request, db: DbDep) -> None:
    # Created at start-up already, unless Mongo was away then: the unique chunk key must exist
    # before the first upsert relies on it.
    if not getattr(request.app.state, "kb_indexes_ready", False):
        await documents.ensure_indexes_async(db)
        request.app.state.kb_indexes_ready = True


@router.post("/{kb_id}/chunks", response_model=UpsertResult, dependencies=[Depends(_ensure_indexes)])
async def upsert_chunks(kb_id: KbId, body: UpsertChunks, db: DbDep, settings: SettingsDep) -> UpsertResult:
    """Insert or update chunks (idempotent on ``chunk_id``); unchanged chunks are not rewritten."""
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
async def get_kb(kb_id: KbId, db: DbDep) -> KbStats:
    stats = await kbs.kb_stats(db, kb_id)
    if stats is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {kb_id!r} not found")
    return KbStats(**stats)


@router.put("/{kb_id}", response_model=KbStats)
async def put_kb(kb_id: KbId, body: KbSettings, db: DbDep, settings: SettingsDep) -> KbStats:
    """The KB's settings: its own ``retriever`` (``{"kind": "http"|"bm25"|"vector", "url"?,
    "ids_field"?, "top_k"?}``; ``null``: the deployment's ``RAGTASKS_RETRIEVER``). Evaluations of
    the KB use it unless they name one themselves."""
    spec = body.retriever.model_dump(exclude_none=True) if body.retriever is not None else None
    if spec is not None and spec["kind"] == "http" and not spec.get("url") and not settings.retriever_url:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_URL)
    await kbs.set_retriever(db, kb_id, spec, datetime.now(UTC))
    return await get_kb(kb_id, db)


@router.delete("/{kb_id}/chunks/{chunk_id}", response_model=DeleteResult)
async def delete_chunk(kb_id: KbId, chunk_id: ChunkId, db: DbDep) -> DeleteResult:
    """Delete one chunk: it is no longer sampled, and it leaves the vector index at the next alignment."""
    deleted, version = await kbs.delete_chunks(db, kb_id, [chunk_id])
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"chunk {chunk_id!r} not found in knowledge base {kb_id!r}")
    return DeleteResult(kb_id=kb_id, deleted=deleted, not_found=[], version=version)


@router.post("/{kb_id}/chunks:delete", response_model=DeleteResult)
async def delete_chunks(kb_id: KbId, body: DeleteChunks, db: DbDep, settings: SettingsDep) -> DeleteResult:
    """Delete many chunks at once (``{"chunk_ids": [...]}``); ids not found are listed, not an error."""
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
    since: Annotated[datetime | None, Query(description="ISO 8601; only changes after it")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> dict[str, Any]:
    """What maintenance merged into what since ``since``, oldest first, so the RAG service can
    apply it (``merged_into`` null: the chunk stands for itself again). Pass the last ``at`` as
    the next ``since``."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without zone is UTC, as the listed ``at`` are
    merges = await kbs.merges_since(db, kb_id, since, limit)
    for merge in merges:
        merge["at"] = merge["at"].replace(tzinfo=UTC) if merge["at"].tzinfo is None else merge["at"]
    return {"kb_id": kb_id, "merges": merges, "next_since": merges[-1]["at"] if merges else since}


@router.post("/{kb_id}/queries", status_code=status.HTTP_201_CREATED)
async def add_query(kb_id: KbId, body: LabelledQuery, db: DbDep) -> dict[str, Any]:
    """A labelled query of the KB (BEIR's qrels): ``{"query", "relevant": {chunk_id: grade},
    "query_id"?}``; a grade > 0 is relevant, 0 judged not relevant. Idempotent on ``query_id``
    (default: derived from the text). Evaluations with ``"questions": "labelled"`` sample them."""
    if await kbs.active_chunk_count(db, kb_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {kb_id!r} not found")
    query_id = body.query_id or "q-" + hashlib.sha256(body.query.encode("utf-8")).hexdigest()[:16]
    created = await kbs.upsert_query(db, kb_id, query_id, body.query, body.relevant, "api")
    return {"kb_id": kb_id, "query_id": query_id, "created": created}


@router.get("/{kb_id}/queries")
async def list_queries(
    kb_id: KbId,
    db: DbDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    source: Annotated[Literal["labelled"], Query(description="labelled (events: not yet)")] = "labelled",
) -> dict[str, Any]:
    """The KB's labelled queries, by query id, a page at a time (``ragtasks eval export`` reads them)."""
    page, total = await kbs.queries_page(db, kb_id, offset, limit)
    following = offset + len(page)
    return {
        "kb_id": kb_id,
        "source": source,
        "queries": page,
        "total": total,
        "next_offset": following if following < total else None,
    }
