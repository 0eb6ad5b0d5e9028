"""Retrieval events the RAG service reports: the empty-retrieval rule, the query review list, metric labels."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetrievalEventSettings(BaseModel):
    # Empty-retrieval rule: fire when empties in the window reach THRESHOLD, or their ratio reaches
    # RATIO with at least MIN_EVENTS events; no second firing of a KB within COOLDOWN.
    empty_retrieval_threshold: int = Field(50, ge=1)
    empty_retrieval_window_seconds: int = Field(300, ge=1, le=86_400)
    empty_retrieval_min_events: int = Field(20, ge=1)
    empty_retrieval_ratio: float = Field(0.5, gt=0, le=1)
    empty_retrieval_cooldown_seconds: int = Field(900, ge=0)
    max_retrieval_events_per_request: int = Field(1000, ge=1, le=10_000)
    # Distinct real queries kept per KB for the review list (GET /v1/kbs/{kb_id}/queries?source=events).
    event_queries_max_per_kb: int = Field(1000, ge=0, le=100_000)
    # The `kb` label of the retrieval metrics takes the first this-many KBs a gateway process
    # sees; later ones are counted as `other` (kb_id comes from callers: bounded cardinality).
    metrics_max_kbs: int = Field(100, ge=1, le=100_000)
