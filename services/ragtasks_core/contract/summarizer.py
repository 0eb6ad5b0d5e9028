"""Payloads of the summarizer queue."""

from __future__ import annotations

from typing import Literal

from .common import Id, Payload


class SummarizeSession(Payload):
    """Write the rolling summary of one chat session (``ragtasks.summarizer.summarize_session``)."""

    session_id: Id
    # Why it was asked for: the token threshold was crossed, or an explicit API call.
    reason: Literal["threshold", "manual", "sweep"] = "threshold"


class Ping(Payload):
    """A no-op round trip, used by readiness checks and benchmarks."""
