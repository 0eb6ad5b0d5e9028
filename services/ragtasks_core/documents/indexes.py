"""An index declaration, and the one pair of functions that creates declared indexes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

# The field a record created through the API (or for a KB's owner) carries: the creating key's
# name, never its token (``ragtasks_core.api_keys.owner_of``). Sessions, KBs, evaluations and
# alerts have it; ``RAGTASKS_API_KEY_ISOLATION`` filters on it (docs/security.md).
CREATED_BY = "created_by"


@dataclass(frozen=True)
class Index:
    collection: str
    keys: list[tuple[str, int]]
    options: dict[str, Any] = field(default_factory=dict)


def ensure(db: Database, indexes: Iterable[Index]) -> None:
    """Create ``indexes`` (idempotent; PyMongo names them)."""
    for index in indexes:
        db[index.collection].create_index(index.keys, **index.options)


async def ensure_async(db: AsyncDatabase, indexes: Iterable[Index]) -> None:
    """:func:`ensure`, from the gateway's async client."""
    for index in indexes:
        await db[index.collection].create_index(index.keys, **index.options)
