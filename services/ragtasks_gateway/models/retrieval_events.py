"""Bodies of ``/v1/retrieval-events``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ragtasks_core.contract.common import Id, UtcDatetime

# One hour: a latency beyond it is a unit mistake or garbage, and would distort the histogram's sum.
MAX_LATENCY_MS = 3_600_000


class RetrievalEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kb_id: Id
    query: Annotated[str, Field(max_length=4000)]
    n_results: Annotated[int, Field(ge=0, le=1_000_000)]
    latency_ms: Annotated[float | None, Field(ge=0, le=MAX_LATENCY_MS, allow_inf_nan=False)] = None
    # Informational: the window counts events when they arrive (on Redis's clock).
    ts: UtcDatetime | None = None


class RetrievalEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[RetrievalEvent] = Field(min_length=1)


class KbWindow(BaseModel):
    kb_id: str
    window_events: int
    window_empty: int
    firing: bool


class RetrievalEventsAccepted(BaseModel):
    accepted: int
    kbs: list[KbWindow]
    alerts: list[dict[str, str]]
    # The queries were handed to the review list (GET /v1/kbs/{kb_id}/queries?source=events),
    # which counts them in the background; False: sampling is off, or busy and skipped them.
    queries_queued: bool = False
