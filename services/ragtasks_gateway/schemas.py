"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
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


class TaskAccepted(BaseModel):
    task_id: str


class TaskStatus(BaseModel):
    task_id: str
    state: str
    result: Any = None
    error: str | None = None
