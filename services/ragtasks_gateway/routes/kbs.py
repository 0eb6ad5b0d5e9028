"""Knowledge bases: upsert chunks in batches, read counts."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtasks_core.contract import ID_PATTERN

from .. import kbs_store
from ..deps import DbDep, SettingsDep, require_api_key

router = APIRouter(prefix="/v1/kbs", tags=["knowledge bases"], dependencies=[Depends(require_api_key)])
KbId = Annotated[str, Path(pattern=ID_PATTERN, description="letters, digits and ._:- (max 128)")]
MAX_METADATA_BYTES = 4096


class ChunkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1)
    doc_id: str | None = Field(default=None, pattern=ID_PATTERN)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata must serialize to at most {MAX_METADATA_BYTES} bytes of JSON")
        if any(k.startswith("$") or "." in k for k in value):
            raise ValueError("metadata keys must not start with '$' or contain '.'")
        return value


class UpsertChunks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunks: list[ChunkIn] = Field(min_length=1)


class UpsertResult(BaseModel):
    kb_id: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    version: int


class KbStats(BaseModel):
    kb_id: str
    version: int
    chunks: int
    active_chunks: int
    merged_chunks: int
    documents: int
    created_at: Any = None
    updated_at: Any = None
    last_maintenance: dict[str, Any] | None = None


async def _ensure_indexes(request: Request, db: DbDep) -> None:
    if not getattr(request.app.state, "kb_indexes_ready", False):
        await kbs_store.ensure_indexes(db)
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
    counts = await kbs_store.upsert_chunks(db, kb_id, [c.model_dump() for c in body.chunks])
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
    stats = await kbs_store.kb_stats(db, kb_id)
    if stats is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {kb_id!r} not found")
    return KbStats(**stats)
