"""Per-request text totals derived from ``RAGTASKS_MAX_REQUEST_BYTES``, so field limits agree with it.

The per-item limits alone allowed requests far over the byte limit (100 messages x 32,000
characters is ~9.6 MB of Chinese in UTF-8, ~12.8 MB of emoji). A character takes at most 4
bytes in UTF-8, so one request may carry at most ``(limit - the rest of a maximal request) / 4``
characters of text in total: the largest request the field limits accept then still fits the
byte limit, and a client that obeys the documented limits never meets a 413 from the byte limit
(as long as it sends UTF-8, not ``\\uXXXX`` escapes).
"""

from __future__ import annotations

from fastapi import HTTPException, status

from ragtasks_core.settings import Settings

UTF8_MAX_BYTES_PER_CHAR = 4
ENVELOPE_BYTES = 1024  # the top-level object, its key, brackets
# The largest JSON an item takes besides its text: keys, punctuation, ids (128), numbers.
MESSAGE_OVERHEAD_BYTES = 48  # {"role":"assistant","content":""},
RETRIEVAL_EVENT_OVERHEAD_BYTES = 320  # kb_id, n_results, latency_ms, ts and the empty query
CHUNK_OVERHEAD_BYTES = 4096 + 2 * 128 + 96  # metadata (MAX_METADATA_BYTES), chunk_id, doc_id, keys


def text_budget(max_request_bytes: int, items: int, per_item_bytes: int) -> int:
    """Characters of text ``items`` items may carry in total within ``max_request_bytes``."""
    room = max_request_bytes - ENVELOPE_BYTES - items * per_item_bytes
    return max(room // UTF8_MAX_BYTES_PER_CHAR, 0)


def message_chars(settings: Settings) -> int:
    return text_budget(settings.max_request_bytes, settings.max_messages_per_request, MESSAGE_OVERHEAD_BYTES)


def chunk_chars(settings: Settings) -> int:
    return text_budget(settings.max_request_bytes, settings.kb_max_chunks_per_request, CHUNK_OVERHEAD_BYTES)


def query_chars(settings: Settings) -> int:
    return text_budget(
        settings.max_request_bytes, settings.max_retrieval_events_per_request, RETRIEVAL_EVENT_OVERHEAD_BYTES
    )


def require_total(what: str, total: int, budget: int) -> None:
    """413 when the request's texts together pass the budget."""
    if total > budget:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{what} carry {total} characters in total; one request may carry at most {budget} "
            "(derived from RAGTASKS_MAX_REQUEST_BYTES); send smaller batches",
        )
