"""The ``silences`` collection: Alertmanager-style silences, created through the gateway's API.

``{_id: "si-…", matchers: ['kb="k1"', …], starts_at, ends_at, comment, created_by, created_at,
updated_at}``. The state is derived from the times (pending, active, expired); ``DELETE`` expires
a silence (``ends_at`` = now) rather than forgetting it, as Alertmanager does, so an alert's
``silenced_by`` keeps pointing at something. The gateway writes them; the alerter reads the
unexpired ones for every routing decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from ..alerting.matchers import Matcher, parse_matcher_list
from ..alerting.silences import Silence
from .indexes import Index

SILENCES = "silences"

INDEXES: tuple[Index, ...] = (
    Index(SILENCES, [("ends_at", ASCENDING)]),
    Index(SILENCES, [("created_at", DESCENDING)]),
)


def new_silence(
    matchers: Sequence[Matcher],
    *,
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "_id": f"si-{uuid.uuid4().hex}",
        # Stored in canonical form (quoted, escaped), so what is listed parses back to the same.
        "matchers": [str(m) for m in matchers],
        "starts_at": starts_at,
        "ends_at": ends_at,
        "comment": comment,
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
    }


def unexpired(now: datetime) -> dict[str, Any]:
    """Pending and active silences: the ones that can still mute something."""
    return {"ends_at": {"$gt": now}}


def expire_update(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """End a silence now (a pending one ends where it would have started)."""
    ends_at = max(min(doc["ends_at"], now), doc["starts_at"])
    return {"$set": {"ends_at": ends_at, "updated_at": now}}


def to_silence(doc: dict[str, Any]) -> Silence:
    return Silence(doc["_id"], tuple(parse_matcher_list(doc["matchers"])), doc["starts_at"], doc["ends_at"])
