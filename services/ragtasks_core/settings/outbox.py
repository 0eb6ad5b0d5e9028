"""Publishing after a write: the producers' publish timeout and the outbox sweep that finishes the job."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OutboxSettings(BaseModel):
    # Beat runs the outbox sweep this often; it publishes what was recorded but not published
    # (broker down) once the record is older than the grace period.
    outbox_sweep_interval_seconds: float = Field(60.0, gt=0)
    outbox_grace_seconds: float = Field(5.0, ge=0)
    # A summary published but still pending after this long is published again (same task id).
    outbox_stale_pending_seconds: float = Field(900.0, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    # How long a producer (gateway, beat) waits for the broker to confirm a publish before it
    # leaves the record to the outbox sweep: short, so an append never hangs on a dead broker.
    publish_timeout_seconds: float = Field(1.5, gt=0, le=30)
