"""The ``kb_queries`` collection: a knowledge base's labelled queries (BEIR's qrels).

``{kb_id, query_id, query, relevant}``: the evaluator measures recall on them when a KB has them.
"""

from __future__ import annotations

from typing import Any

from .indexes import Index

COLLECTION = "kb_queries"

# Read by kb_id only, a KB at a time.
INDEXES: tuple[Index, ...] = ()


def of_kb(kb_id: str) -> dict[str, Any]:
    return {"kb_id": kb_id}
