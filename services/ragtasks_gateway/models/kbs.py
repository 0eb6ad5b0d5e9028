"""Bodies of ``/v1/kbs``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtasks_core.contract import ID_PATTERN, safe_json
from ragtasks_core.contract.evaluator import RetrieverSpec
from ragtasks_core.text import is_blank

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
        if is_blank(value):
            raise ValueError("text must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        safe_json.check(value, path="metadata")  # what Mongo can store: int64, no NUL in keys
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata must serialize to at most {MAX_METADATA_BYTES} bytes of JSON")
        if any(k.startswith("$") or "." in k for k in _keys(value)):
            raise ValueError("metadata keys must not start with '$' or contain '.'")
        return value


def _keys(value: Any) -> Iterator[str]:
    """Every object key in ``value``, at any depth (inside lists too): Mongo reads '$' and '.' in a
    nested key as an operator or a path just as at the top."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield from item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


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
    retriever: dict[str, Any] | None = None  # the KB's own retriever (PUT /v1/kbs/{kb_id}); None: the settings'
    baseline: dict[str, Any] | None = None  # the pinned report (POST /v1/evaluations/{id}/baseline)
    created_by: str | None = None  # the name of the key whose write created the KB (docs/security.md)


# Said alike by PUT /v1/kbs/{kb_id} and POST /v1/evaluations.
NO_URL = "the http retriever needs a url: give retriever.url (it may contain {kb_id}) or set RAGTASKS_RETRIEVER_URL"


class KbSettings(BaseModel):
    """``PUT /v1/kbs/{kb_id}``: the KB's own retriever (null: the deployment's)."""

    model_config = ConfigDict(extra="forbid")

    retriever: RetrieverSpec | None


class DeleteChunks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(min_length=1)


class DeleteResult(BaseModel):
    kb_id: str
    deleted: list[str]
    not_found: list[str]
    version: int


MAX_JUDGEMENTS = 1000


class LabelledQuery(BaseModel):
    """``POST /v1/kbs/{kb_id}/queries``: a query and its judgements (BEIR's qrels)."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    relevant: dict[str, int] = Field(min_length=1, max_length=MAX_JUDGEMENTS)
    query_id: str | None = Field(default=None, pattern=ID_PATTERN)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("query must not be blank")
        return value

    @field_validator("relevant")
    @classmethod
    def _judgements(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [c for c in value if not re.fullmatch(ID_PATTERN, c)]
        if bad:
            raise ValueError(f"relevant: {bad[0]!r} is not a chunk id (letters, digits and ._:-, max 128)")
        if any(g < 0 or g > 100 for g in value.values()):
            raise ValueError("relevant: grades are integers from 0 (not relevant) to 100")
        if not any(g > 0 for g in value.values()):
            raise ValueError("relevant: at least one chunk needs a grade above 0")
        return value
