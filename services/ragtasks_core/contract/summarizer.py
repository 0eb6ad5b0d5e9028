"""Payloads of the summarizer queue."""

from __future__ import annotations

from typing import Literal

from . import TaskName
from .common import Id, Payload

# Why a summary was asked for: the token threshold was crossed, an explicit API call, the outbox
# sweep, or a summary task that stopped at its time budget with more to fold ("continue").
SummaryReason = Literal["threshold", "manual", "sweep", "continue"]


class SummarizeSession(Payload):
    """Write the rolling summary of one chat session (``ragtasks.summarizer.summarize_session``)."""

    session_id: Id
    reason: SummaryReason = "threshold"


class Ping(Payload):
    """A no-op round trip, used by readiness checks and benchmarks."""


# The map behind docs/schemas and ``ragtasks publish`` (see ``contract.registry``).
TASK_PAYLOADS: dict[TaskName, type[Payload]] = {
    TaskName.SUMMARIZE_SESSION: SummarizeSession,
    TaskName.SUMMARIZER_PING: Ping,
    TaskName.SWEEP_OUTBOX: Payload,  # the bare versioned envelope {"v": 1}
    TaskName.DELETE_IDLE_SESSIONS: Payload,
}
