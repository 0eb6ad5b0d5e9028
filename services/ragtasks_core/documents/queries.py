"""The ``kb_queries`` and ``kb_event_queries`` collections: a KB's queries, labelled and real.

- ``kb_queries``: labelled queries (BEIR's qrels), ``{kb_id, query_id, query, relevant}``: the
  evaluator measures recall on them when a KB has them.
- ``kb_event_queries``: the review list, the distinct real queries ``POST /v1/retrieval-events``
  saw, so that they can be labelled. ``{_id: "kb_id|key", kb_id, key, query, count, empty_count,
  first_seen, last_seen}``: ``key`` identifies the query as :func:`event_key` normalises it
  (full- and half-width forms, case and spacing are one query), ``query`` is the text of its
  first occurrence. At most ``RAGTASKS_EVENT_QUERIES_MAX_PER_KB`` per KB: once a KB is full its
  known queries keep counting and new ones are dropped (:func:`admit`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from ..text.analyzer import normalize
from .indexes import Index

COLLECTION = "kb_queries"
EVENTS = "kb_event_queries"

# Labelled queries: read by kb_id only, a KB at a time. The review list: a KB's page, most
# frequent first, and the count of a KB's distinct queries (the bound), both from this index.
REVIEW_ORDER = [("count", DESCENDING), ("last_seen", DESCENDING), ("_id", ASCENDING)]
# Who came first: a full KB keeps these, and a race past the bound drops the rest.
ADMISSION_ORDER = [("first_seen", ASCENDING), ("_id", ASCENDING)]
INDEXES: tuple[Index, ...] = (Index(EVENTS, [("kb_id", ASCENDING), *REVIEW_ORDER]),)
# What a reviewer sees of a sampled query.
REVIEW_FIELDS = {"_id": 0, "query": 1, "count": 1, "empty_count": 1, "first_seen": 1, "last_seen": 1}


def of_kb(kb_id: str) -> dict[str, Any]:
    return {"kb_id": kb_id}


def labelled_id(kb_id: str, query_id: str) -> str:
    """The ``_id`` of a labelled query: one per (KB, query id)."""
    return f"{kb_id}|{query_id}"


def default_query_id(query: str) -> str:
    """The id ``POST /v1/kbs/{kb_id}/queries`` gives a labelled query posted without one."""
    return "q-" + hashlib.sha256(query.encode("utf-8")).hexdigest()[:16]


# --- the review list of real queries ---------------------------------------------------------------


# Spacing next to a CJK character (Han, kana, Hangul, CJK punctuation) is not a word boundary:
# "退货 政策" and "退货政策" are one query, while "reset my vpn" keeps its spaces.
_CJK = "\u2e80-\u303f\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_SPACE = re.compile(f"\\s+(?=[{_CJK}])|(?<=[{_CJK}])\\s+")


def event_key(query: str) -> str | None:
    """What makes two real queries one: the analyzer's normalisation (NFKC, case folding,
    whitespace collapsed) without zero-width format characters (Unicode ``Cf``), spaces next to
    CJK text or trailing punctuation (``。``, ``？``, ``?``), hashed to a bounded id. None:
    nothing left to review. Review-list identity only: the shared analyzer is not changed."""
    text = normalize("".join(ch for ch in query if unicodedata.category(ch) != "Cf"))
    text = _CJK_SPACE.sub("", text)
    while text and (text[-1].isspace() or unicodedata.category(text[-1]).startswith("P")):
        text = text[:-1]
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] if text else None


def event_id(kb_id: str, key: str) -> str:
    return f"{kb_id}|{key}"


@dataclass
class Sampled:
    """One distinct query of a request: its first text, how often it came, how often empty."""

    kb_id: str
    key: str
    query: str
    count: int = 0
    empty_count: int = 0

    @property
    def id(self) -> str:
        return event_id(self.kb_id, self.key)


def sample(events: Iterable[tuple[str, str, bool]]) -> list[Sampled]:
    """A request's ``(kb_id, query, empty)`` events folded to distinct queries, in first-seen order."""
    found: dict[tuple[str, str], Sampled] = {}
    for kb_id, query, empty in events:
        key = event_key(query)
        if key is None:
            continue
        item = found.setdefault((kb_id, key), Sampled(kb_id, key, query))
        item.count += 1
        item.empty_count += int(empty)
    return list(found.values())


def admit(
    sampled: list[Sampled], known: set[str], stored: Mapping[str, int], max_per_kb: int
) -> tuple[list[Sampled], list[Sampled]]:
    """(to write, dropped): every query already ``known`` (by id), and new ones while their KB
    has room (``stored``: its distinct queries now), the most frequent of the request first."""
    room = {kb: max(0, max_per_kb - n) for kb, n in stored.items()}
    new = sorted((s for s in sampled if s.id not in known), key=lambda s: -s.count)
    kept = [s for s in sampled if s.id in known]
    dropped: list[Sampled] = []
    for item in new:
        left = room.get(item.kb_id, max_per_kb)
        (kept if left > 0 else dropped).append(item)
        room[item.kb_id] = left - 1
    return kept, dropped


def seen_update(item: Sampled, now: datetime, *, new: bool) -> dict[str, Any]:
    """The upsert of one sampled query: counted, and created with its first text when ``new``."""
    update: dict[str, Any] = {
        "$inc": {"count": item.count, "empty_count": item.empty_count},
        "$set": {"last_seen": now},
    }
    if new:
        update["$setOnInsert"] = {"kb_id": item.kb_id, "key": item.key, "query": item.query, "first_seen": now}
    return update


def review_item(doc: dict[str, Any], labelled: set[str]) -> dict[str, Any]:
    """A sampled query as the review list shows it: what ``POST /v1/kbs/{kb_id}/queries`` needs
    (``query``, and the ``query_id`` it gives that text) and whether it is labelled already."""
    query_id = default_query_id(doc["query"])
    return {**doc, "query_id": query_id, "labelled": query_id in labelled}
