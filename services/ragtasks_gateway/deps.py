"""FastAPI dependencies: settings, Mongo, the publisher, bearer-token auth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.api_keys import ApiKey, authenticate, is_admin_area, required_scope, sees_everything
from ragtasks_core.settings import Settings

from .ownership import Caller
from .publisher import Publisher
from .stores.sessions import Collections

_bearer = HTTPBearer(auto_error=False)
# Set in the request's scope state by ``BodyGuard``, which checks the token before the body is read.
AUTHENTICATED = "ragtasks_authenticated"
# The caller's key name, in the request's scope state: what the request log line and the
# ``caller`` label of ragtasks_http_requests_total show (never the token).
CALLER = "ragtasks_caller"
# The caller's ``ApiKey`` itself, in the request's scope state: whom its records belong to.
KEY = "ragtasks_key"


# Every dependency here is ``async def``: they only read the app's or the request's state, and a
# plain ``def`` would be run in the thread pool, a hop that costs more than the work (issue 17).
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncDatabase:
    db: AsyncDatabase = request.app.state.db
    return db


async def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


def auth_problem(settings: Settings, authorization: str | None) -> str | None:
    """Why an ``Authorization`` header does not authenticate, or None when it does.

    Compares against every key in constant time (no early exit on a match)."""
    if authenticate(settings.api_key_entries, authorization) is not None:
        return None
    scheme, _, token = (authorization or "").strip().partition(" ")
    return "missing bearer token" if scheme.lower() != "bearer" or not token.strip() else "invalid bearer token"


def access_problem(
    settings: Settings, method: str, path: str, authorization: str | None
) -> tuple[ApiKey | None, tuple[int, str] | None]:
    """The caller's key (None: unauthenticated) and, when refused, (401 or 403, why)."""
    key = authenticate(settings.api_key_entries, authorization)
    if key is None:
        return None, (401, auth_problem(settings, authorization) or "invalid bearer token")
    scope = required_scope(method, path)
    if scope not in key.scopes:
        return key, (403, f"the key {key.name!r} lacks the {scope!r} scope this request needs")
    if settings.api_key_isolation and is_admin_area(path) and not sees_everything(key):
        # DLQ, redelivery and silences act on every key's alerts and tasks: under isolation the
        # implicit all-scopes of a key without a scope list must not reach them.
        return key, (403, f"the key {key.name!r} needs an entry that lists the 'admin' scope for this request")
    return key, None


async def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Bearer auth on every ``/v1`` route (``credentials`` puts the scheme in the OpenAPI docs).

    ``BodyGuard`` has already checked it when it runs in front (the normal app): not twice."""
    if request.scope.get("state", {}).get(AUTHENTICATED):
        return
    settings = request.app.state.settings
    key, refused = access_problem(settings, request.method, request.url.path, request.headers.get("authorization"))
    if key is not None:
        remember_key(request.scope, key)
    if refused:
        headers = {"WWW-Authenticate": "Bearer"} if refused[0] == status.HTTP_401_UNAUTHORIZED else None
        raise HTTPException(refused[0], refused[1], headers=headers)


def remember_key(scope: Any, key: ApiKey) -> None:
    """Put the authenticated key (and its name, for logs and metrics) in the request's state."""
    state = scope.setdefault("state", {})
    state[CALLER] = key.name
    state[KEY] = key


async def get_caller(request: Request) -> Caller:
    """The caller as ownership sees it (``RAGTASKS_API_KEY_ISOLATION``)."""
    settings: Settings = request.app.state.settings
    return Caller.of(request.scope.get("state", {}).get(KEY), settings.api_key_isolation)


@dataclass(frozen=True, slots=True)
class Context:
    """What a busy route needs from the app and the request, as one dependency: FastAPI spends
    more CPU on solving each dependency than these take to compute (issue 17)."""

    settings: Settings
    db: AsyncDatabase
    collections: Collections  # the append's collections, made once in the lifespan
    publisher: Publisher
    caller: Caller


async def get_context(request: Request) -> Context:
    state = request.app.state
    settings: Settings = state.settings
    caller = Caller.of(request.scope.get("state", {}).get(KEY), settings.api_key_isolation)
    return Context(settings, state.db, state.collections, state.publisher, caller)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[AsyncDatabase, Depends(get_db)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ContextDep = Annotated[Context, Depends(get_context)]
