"""What happens before a request body is read: bearer auth, the size limit, the read timeout.

A pure ASGI middleware (no ``BaseHTTPMiddleware``): it answers from the headers alone when it
can, and otherwise wraps ``receive`` so the body is counted and timed as it streams in.

- ``/v1/*`` without a valid bearer token: 401 at once, the body is never read (an anonymous
  caller cannot make the gateway buffer anything, nor learn about a body's shape); with a key
  that lacks the scope the request needs (``ragtasks_core.api_keys.required_scope``): 403.
- ``Content-Length`` over ``RAGTASKS_MAX_REQUEST_BYTES``: 413 at once.
- Streamed (chunked) bytes over the limit: 413 as soon as the limit is passed; what was read
  is dropped and the rest is never buffered.
- The body not complete within ``RAGTASKS_REQUEST_BODY_TIMEOUT_SECONDS`` of the headers: 408.

The streamed cases raise ``HTTPException`` from ``receive``: FastAPI re-raises it from its
body reading, and its exception handling answers with the status and ``detail``.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragtasks_core.settings import Settings

from .deps import AUTHENTICATED, access_problem, remember_key

PROTECTED_PREFIX = "/v1/"
# A body that timed out (or whose length cannot be parsed) leaves the connection in an unknown
# state: close it. After a 401 or 413 it stays open; the server drops the unread rest of the body
# as it arrives (never buffered), so the client reliably reads the answer.
_CLOSE = {"Connection": "close"}


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def too_large(limit: int, what: str) -> str:
    return f"{what} is larger than the limit of {limit} bytes (RAGTASKS_MAX_REQUEST_BYTES); send smaller batches"


class _LimitedReceive:
    """``receive`` that counts the body's bytes and gives up at the deadline."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._read = 0
        self._done = False

    async def __call__(self) -> Message:
        if self._done:  # the body is in: later calls only wait for a disconnect, untimed
            return await self._receive()
        try:
            # ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` wraps the receive
            # in a task of its own, CPU on every request for a deadline that almost never fires.
            async with asyncio.timeout(max(self._deadline - time.monotonic(), 0.0)):
                message = await self._receive()
        except TimeoutError:
            detail = (
                f"the request body did not arrive within {self._timeout:g} s (RAGTASKS_REQUEST_BODY_TIMEOUT_SECONDS)"
            )
            raise HTTPException(408, detail, headers=_CLOSE) from None
        if message["type"] == "http.request":
            self._read += len(message.get("body", b""))
            if self._read > self._limit:
                raise HTTPException(413, too_large(self._limit, "the request body"))
            self._done = not message.get("more_body", False)
        else:
            self._done = True
        return message


class BodyGuard:
    """The ASGI middleware; ``settings`` gives the key list and the two limits."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        early = self._early_answer(scope, headers)
        if early is not None:
            await _answer(send, *early)
            return
        if scope["path"].startswith(PROTECTED_PREFIX):
            scope.setdefault("state", {})[AUTHENTICATED] = True
        limited = _LimitedReceive(receive, self.settings.max_request_bytes, self.settings.request_body_timeout_seconds)
        await self.app(scope, limited, send)

    def _early_answer(self, scope: Scope, headers: Headers) -> tuple[int, str, dict[str, str]] | None:
        """(status, detail, headers) when the headers alone decide, else None."""
        path = scope["path"]
        if path.startswith(PROTECTED_PREFIX):
            key, refused = access_problem(self.settings, scope["method"], path, headers.get("authorization"))
            if key is not None:
                remember_key(scope, key)
            if refused:
                return refused[0], refused[1], {"WWW-Authenticate": "Bearer"} if refused[0] == 401 else {}
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return 400, "Content-Length must be a non-negative integer", _CLOSE
            if int(declared) > self.settings.max_request_bytes:
                return 413, too_large(self.settings.max_request_bytes, f"a body of {declared} bytes"), {}
        return None
