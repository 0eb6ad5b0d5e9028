"""The gateway's bearer keys: ``RAGTASKS_API_KEYS`` entries with a name and scopes.

Syntax: comma-separated entries, each one of

- ``TOKEN``: a bare token (today's form). Its name is ``key-N``, N its 1-based position in the list.
- ``NAME:TOKEN``: a named key.
- ``NAME:TOKEN:SCOPES``: a named key with ``+``-separated scopes, e.g. ``ingest:3f9c...:write``.

Scopes are independent rights: ``read`` (GET, HEAD), ``write`` (POST, PUT, PATCH), ``admin`` (DLQ,
redelivery, silences, every DELETE). A key without scopes has all three, which is what every key
could do before scopes existed. The name, never the token, is what logs and metrics show; names come
from settings only, so the ``caller`` label stays bounded. A token containing ``:`` must be named.

Ownership (``RAGTASKS_API_KEY_ISOLATION``, docs/security.md): what a key creates records its
:func:`owner_of` as ``created_by``. A named key owns by its name; every bare token owns as one
shared :data:`ANONYMOUS` (their ``key-N`` names follow the list's order, which must not move
ownership; no named key may be called ``anonymous``). Only a key whose entry *lists* ``admin``
sees every record under isolation (:func:`sees_everything`): the implicit all-scopes of a key
without a scope list would otherwise make ``a:TOKEN,b:TOKEN`` isolate nothing.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from pydantic import SecretStr

SCOPES = ("read", "write", "admin")
ALL_SCOPES = frozenset(SCOPES)
# The caller of a request without a valid key (health checks, 401s): one fixed label value.
ANONYMOUS = "anonymous"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    """One configured key. ``token`` is a SecretStr so that a repr or a log never shows it."""

    name: str
    token: SecretStr
    scopes: frozenset[str] = ALL_SCOPES
    named: bool = True  # False: a bare token (its name is only its position, ``key-N``)
    scoped: bool = False  # True: the entry listed its scopes


def _parse_scopes(text: str, name: str) -> frozenset[str]:
    scopes = frozenset(part.strip() for part in text.split("+") if part.strip())
    unknown = sorted(scopes - ALL_SCOPES)
    if not scopes or unknown:
        raise ValueError(
            f"RAGTASKS_API_KEYS: key {name!r} has unknown scopes {unknown or [text]}; "
            f"use {'+'.join(SCOPES)} (any of them, '+'-separated)"
        )
    return scopes


def parse_entry(entry: str, position: int) -> ApiKey:
    """One entry of the list (see the module docstring); ``position`` is 1-based."""
    parts = entry.strip().split(":")
    if len(parts) == 1:
        return ApiKey(f"key-{position}", SecretStr(parts[0]), named=False)
    if len(parts) > 3:
        raise ValueError(f"RAGTASKS_API_KEYS: entry {position} has more than NAME:TOKEN:SCOPES")
    name, token = parts[0].strip(), parts[1].strip()
    if not _NAME_RE.match(name) or name == ANONYMOUS:
        raise ValueError(
            f"RAGTASKS_API_KEYS: entry {position} needs a name of letters, digits, '_', '.', '-' "
            f"(up to 64, not {ANONYMOUS!r}) before its ':'"
        )
    if not token:
        raise ValueError(f"RAGTASKS_API_KEYS: key {name!r} has an empty token")
    if len(parts) == 3:
        return ApiKey(name, SecretStr(token), _parse_scopes(parts[2], name), scoped=True)
    return ApiKey(name, SecretStr(token))


def owner_of(key: ApiKey) -> str:
    """The ``created_by`` of what ``key`` creates: its name, or :data:`ANONYMOUS` for a bare token."""
    return key.name if key.named else ANONYMOUS


def sees_everything(key: ApiKey) -> bool:
    """Whether ``key`` sees every record under isolation: its entry lists the ``admin`` scope."""
    return key.scoped and "admin" in key.scopes


def parse_api_keys(entries: list[str]) -> list[ApiKey]:
    """Every entry parsed; names and tokens must be unique (a clear error otherwise)."""
    keys = [parse_entry(entry, position) for position, entry in enumerate(entries, start=1)]
    names = [key.name for key in keys]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ValueError(f"RAGTASKS_API_KEYS: the name {duplicate!r} is used twice")
    tokens = [key.token.get_secret_value() for key in keys]
    if len(set(tokens)) != len(tokens):
        raise ValueError("RAGTASKS_API_KEYS: two keys share a token")
    return keys


def authenticate(keys: list[ApiKey], authorization: str | None) -> ApiKey | None:
    """The key an ``Authorization: Bearer TOKEN`` header presents, or None.

    Compares against every key in constant time (no early exit on a match), so the time taken
    says nothing about which key, or how much of one, matched."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    presented = token.strip().encode()
    found: ApiKey | None = None
    for key in keys:
        if hmac.compare_digest(presented, key.token.get_secret_value().encode()):
            found = key
    return found


# Administration, whatever the method: the dead-letter queues (``/v1/dlq...``), silences
# (``/v1/silences...``, ``/v1/alerts/silences...``) and redelivery (``.../redeliver``).
_ADMIN_AREAS = frozenset({"dlq", "silences"})


def is_admin_area(path: str) -> bool:
    """Whether ``path`` is administration of the whole deployment (DLQ, redelivery, silences):
    under isolation only a key that :func:`sees_everything` may use it, whatever its scopes."""
    parts = path.strip("/").split("/")  # ["v1", area, ...]
    area = parts[1:2] + (parts[2:3] if parts[1:2] == ["alerts"] else [])
    return bool(_ADMIN_AREAS & set(area)) or parts[-1] == "redeliver"


def required_scope(method: str, path: str) -> str:
    """The scope a ``/v1`` request needs: ``admin`` for DLQ, redelivery, silences and every
    DELETE, ``read`` for GET/HEAD/OPTIONS, ``write`` for the other methods."""
    if method.upper() == "DELETE" or is_admin_area(path):
        return "admin"
    return "read" if method.upper() in {"GET", "HEAD", "OPTIONS"} else "write"
