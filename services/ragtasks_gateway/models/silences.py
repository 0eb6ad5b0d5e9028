"""Bodies of ``/v1/silences``: Alertmanager's silence, in this API's snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragtasks_core.alerting.silences import MAX_COMMENT_CHARS, MAX_MATCHERS
from ragtasks_core.contract.common import ZonedUtcDatetime

# One matcher is a label name, an operator and a value (or regex): 1 KiB is far more than a real one
# needs, and bounds what the parser reads on the event loop.
MAX_MATCHER_CHARS = 1024


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Alertmanager matchers, e.g. ['kb="k1"', 'severity=~"warning|info"'], all of which must match.
    matchers: list[Annotated[str, Field(min_length=1, max_length=MAX_MATCHER_CHARS)]] = Field(
        min_length=1, max_length=MAX_MATCHERS
    )
    starts_at: ZonedUtcDatetime | None = None  # default: now
    ends_at: ZonedUtcDatetime
    comment: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    # Accepted (older clients send it) but ignored: the silence records the calling key's name.
    created_by: str | None = Field(default=None, min_length=1, max_length=256)


class SilenceOut(BaseModel):
    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    state: Literal["pending", "active", "expired"]
    created_at: datetime
    updated_at: datetime


class SilenceList(BaseModel):
    silences: list[SilenceOut]
