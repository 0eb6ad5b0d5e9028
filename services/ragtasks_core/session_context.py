"""What a session's context is: the gap-free run after the summary's watermark, newest within a budget.

Shared by the summarizer (what it may fold) and the gateway (what ``GET /v1/sessions/{id}/context``
returns), so the two always agree on which messages follow the summary.

The gateway reserves sequence numbers before it inserts the messages, so during concurrent
appends a hole can be seen (13 present, 14 still being written). The context stops before the
first hole: a client never gets 15 without 14. A hole whose next message is older than
:data:`HOLE_GRACE` is a reservation whose insert failed for good (the append answered 5xx):
it is stepped over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

# The default of RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS. The gateway gives an append's insert half
# of it (``pymongo.timeout``), so a hole this old is never an insert still in flight.
HOLE_GRACE = timedelta(minutes=2)
TOOL_ROLE = "tool"


def gap_free_count(
    items: Sequence[tuple[int, datetime | None]], watermark: int, now: datetime | None, grace: timedelta = HOLE_GRACE
) -> int:
    """How many of ``items`` ((seq, created_at), in seq order) form the run ``watermark+1, +2, ...``
    (stepping over holes whose next message is older than ``grace``)."""
    count = 0
    expected = watermark + 1
    for seq, created_at in items:
        if seq != expected and not stale_hole(created_at, now, grace):
            break
        count += 1
        expected = seq + 1
    return count


def stale_hole(after_hole_created_at: datetime | None, now: datetime | None, grace: timedelta = HOLE_GRACE) -> bool:
    """Whether a hole before a message created at ``after_hole_created_at`` is permanent."""
    if now is None or after_hole_created_at is None:
        return False
    return now - after_hole_created_at > grace


def newest_within(items: Sequence[tuple[str, int]], max_tokens: int) -> int:
    """How many of the newest ``items`` ((role, tokens), oldest first) fit ``max_tokens`` together.

    A tool result whose calling message does not fit is left out too: the window never starts
    with a result separated from its call.
    """
    count, used = 0, 0
    for _, tokens in reversed(items):
        if used + tokens > max_tokens:
            break
        used += tokens
        count += 1
    while count and items[len(items) - count][0] == TOOL_ROLE:
        count -= 1
    return count
