"""Bodies of ``/v1/sessions``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtasks_core.text import is_blank


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("content must not be blank")
        return value


class AppendMessages(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1)


class AppendResult(BaseModel):
    session_id: str
    last_seq: int
    tokens_since_summary: int
    summary_task_id: str | None = None


class ContextMessage(BaseModel):
    seq: int
    role: str
    content: str


class SessionContext(BaseModel):
    session_id: str
    summary: str | None
    summary_upto_seq: int
    summary_model: str | None = None
    messages: list[ContextMessage]
    tokens_since_summary: int
    summary_pending: bool


class SummaryRecord(BaseModel):
    """One rolling summary: it covers the messages ``from_seq`` < seq <= ``upto_seq``."""

    from_seq: int
    upto_seq: int
    summary: str
    model: str | None = None
    tokens_covered: int | None = None
    created_at: datetime | None = None


class SessionSummaries(BaseModel):
    session_id: str
    summaries: list[SummaryRecord]


class SessionDeleted(BaseModel):
    session_id: str
    deleted: bool  # False: there was no such session (DELETE is idempotent)
    messages_deleted: int
    summaries_deleted: int
