"""Who may see and change a record under ``RAGTASKS_API_KEY_ISOLATION`` (docs/security.md).

Pure rules over the ``created_by`` field (:data:`ragtasks_core.documents.indexes.CREATED_BY`):
filter fragments for queries and checks on documents already read. A confined caller sees only
what it created; the routes answer 404 for anything else, the same answer as for a record that
does not exist, so a record's existence never leaks. A record without ``created_by`` (created
before the field existed, or a system alert about nothing a key owns) is seen only by callers
that see everything. With isolation off nobody is confined and behaviour is what it always was;
``created_by`` is recorded either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ragtasks_core.api_keys import ANONYMOUS, ApiKey, owner_of, sees_everything
from ragtasks_core.documents.indexes import CREATED_BY


class NotYours(Exception):
    """A write into a record that exists and belongs to another key (the route answers 404)."""


@dataclass(frozen=True)
class Caller:
    """The requesting key as ownership sees it."""

    owner: str  # what this caller's new records carry as ``created_by``
    confined: bool  # isolation is on and the key does not see everything
    isolated: bool = False  # isolation is on (admin keys included): alert fingerprints are namespaced
    name: str = field(default=ANONYMOUS, compare=False)  # the key's name (``key-N`` for a bare token)

    @classmethod
    def of(cls, key: ApiKey | None, isolation: bool) -> Caller:
        if key is None:  # no key in the request state: only when auth is not in front (never for /v1)
            return cls(ANONYMOUS, isolation, isolation)
        return cls(owner_of(key), isolation and not sees_everything(key), isolation, key.name)


# Isolation off (or an admin key): what the gateway did before ownership existed.
UNCONFINED = Caller(ANONYMOUS, False)


def visible(caller: Caller) -> dict[str, Any]:
    """The filter fragment that keeps a query to what ``caller`` may see (``{}``: everything)."""
    return {CREATED_BY: caller.owner} if caller.confined else {}


def scoped(query: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
    """``query`` kept to what ``caller`` may see."""
    return {**query, **visible(caller)}


def may_see(doc: Mapping[str, Any] | None, caller: Caller) -> bool:
    """Whether a record read without the fragment is ``caller``'s to see (None: no record)."""
    return doc is not None and (not caller.confined or doc.get(CREATED_BY) == caller.owner)


def foreign(doc: Mapping[str, Any] | None, caller: Caller) -> bool:
    """A record exists and is not ``caller``'s: a write into it is refused (404), while a
    missing record is created by, and then belongs to, whoever writes it first."""
    return doc is not None and not may_see(doc, caller)


def on_insert(caller: Caller) -> dict[str, Any]:
    """What a new record carries in its ``$setOnInsert`` (or insert): its creator."""
    return {CREATED_BY: caller.owner}


_MAX_FINGERPRINT = 256  # RaiseAlert's Fingerprint


def alert_fingerprint(fingerprint: str, caller: Caller) -> str:
    """The fingerprint an alert raised through the API carries: under isolation ``owner/fp``.

    The alerter matches open episodes by fingerprint alone, and the system's are predictable
    (``recall-drop:{kb_id}``): without the namespace a key could fire, rewrite or resolve another
    key's or the system's alert. Owner names and system fingerprints hold no ``/``, so a
    namespaced fingerprint never equals either. Too long, its tail becomes a digest (still
    distinct, still within the contract's 256). An empty one is left to fail validation."""
    fingerprint = fingerprint.strip()
    if not caller.isolated or not fingerprint:
        return fingerprint
    spaced = f"{caller.owner}/{fingerprint}"
    if len(spaced) <= _MAX_FINGERPRINT:
        return spaced
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return f"{spaced[: _MAX_FINGERPRINT - len(digest) - 1]}#{digest}"


def event_rights(
    kb_ids: Collection[str], owners: Mapping[str, str | None], caller: Caller
) -> tuple[set[str], set[str]]:
    """For a confined ``caller``'s retrieval events about ``kb_ids`` (``owners``: each existing
    KB's owner, None if it has none; an id absent is no KB yet): (the KBs whose window numbers
    and alerts the answer may show, the KBs whose queries may enter a review list). Events about
    any KB still count in its window; only the caller's own KBs show, and its own and the
    not-yet-created ones are sampled (the list is there for whoever creates the KB)."""
    shown = {kb for kb in kb_ids if kb in owners and owners[kb] == caller.owner}
    return shown, shown | {kb for kb in kb_ids if kb not in owners}
