"""When a session is summarized, what the summary keeps, and how long sessions are kept."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from .transforms import BlankIsNone


class SummarySettings(BaseModel):
    summary_trigger_tokens: int = Field(2000, ge=1)
    summary_keep_recent_messages: int = Field(6, ge=0)
    summary_max_tokens: int = Field(512, ge=16)
    # Also trigger a summary after this many messages since the last one (unset: by tokens only,
    # RAGTASKS_SUMMARY_TRIGGER_TOKENS).
    summary_trigger_messages: BlankIsNone[int | None] = Field(None, ge=1)
    # Keep the newest messages totalling at most this many tokens verbatim, instead of the newest
    # RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES (unset: keep by count).
    summary_keep_recent_tokens: BlankIsNone[int | None] = Field(None, ge=0)
    # A hole in a session's numbers (an append reserved them, its insert failed) is stepped over
    # by summaries and the context once the message after it is this old; until then it may be
    # an insert still in flight. Also how long a session stays untouched before the outbox sweep
    # recounts its tokens.
    summary_hole_grace_seconds: float = Field(120.0, ge=1, le=86_400)
    # A UTF-8 text file whose content replaces the summarizer's built-in instruction (system prompt).
    summary_prompt_file: BlankIsNone[str | None] = None
    # Delete sessions (messages, summaries, state) idle longer than this many days, nightly
    # (unset: keep forever).
    session_retention_days: BlankIsNone[int | None] = Field(None, ge=1, le=36_500)

    @property
    def summary_hole_grace(self) -> timedelta:
        return timedelta(seconds=self.summary_hole_grace_seconds)
