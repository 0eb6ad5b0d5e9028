"""FastAPI dependencies: settings, Mongo, the publisher, bearer-token auth."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.settings import Settings

from .publisher import Publisher

_bearer = HTTPBearer(auto_error=False)


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
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "missing bearer token"
    presented = token.strip().encode()
    matched = False
    for key in settings.api_keys:
        matched |= hmac.compare_digest(presented, key.get_secret_value().encode())
    return None if matched else "invalid bearer token"


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Bearer auth on every ``/v1`` route (``credentials`` puts the scheme in the OpenAPI docs)."""
    problem = auth_problem(request.app.state.settings, request.headers.get("authorization"))
    if problem:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem, headers={"WWW-Authenticate": "Bearer"})


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[AsyncDatabase, Depends(get_db)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
