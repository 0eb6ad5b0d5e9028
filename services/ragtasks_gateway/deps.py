"""FastAPI dependencies: settings, Mongo, the publisher, bearer-token auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.api_keys import ApiKey, authenticate, required_scope
from ragtasks_core.settings import Settings

from .publisher import Publisher

_bearer = HTTPBearer(auto_error=False)
# Set in the request's scope state by ``BodyGuard``, which checks the token before the body is read.
AUTHENTICATED = "ragtasks_authenticated"
# The caller's key name, in the request's scope state: what the request log line and the
# ``caller`` label of ragtasks_http_requests_total show (never the token).
CALLER = "ragtasks_caller"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> AsyncDatabase:
    db: AsyncDatabase = request.app.state.db
    return db


def get_publisher(request: Request) -> Publisher:
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
    return key, None


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Bearer auth on every ``/v1`` route (``credentials`` puts the scheme in the OpenAPI docs).

    ``BodyGuard`` has already checked it when it runs in front (the normal app): not twice."""
    if request.scope.get("state", {}).get(AUTHENTICATED):
        return
    settings = request.app.state.settings
    key, refused = access_problem(settings, request.method, request.url.path, request.headers.get("authorization"))
    if key is not None:
        request.scope.setdefault("state", {})[CALLER] = key.name
    if refused:
        headers = {"WWW-Authenticate": "Bearer"} if refused[0] == status.HTTP_401_UNAUTHORIZED else None
        raise HTTPException(refused[0], refused[1], headers=headers)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[AsyncDatabase, Depends(get_db)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
