"""JSON request bodies parsed by the one rule of ``contract.safe_json``, off the event loop.

Every router of the gateway uses :class:`SafeJsonRoute`: its ``request.json()`` refuses NaN and
Infinity, integers beyond int64, lone surrogates and NUL bytes (in values and keys) and nesting
deeper than 32, *before* any model sees the body. The refusal is a ``JSONDecodeError``, which
FastAPI answers with 422 and the reason. Parsing and checking a large body is CPU work: it runs
in a worker thread, so ``/healthz`` and other requests are served meanwhile.

:class:`ItemsJsonRoute` parses with only the nesting bound: for batch endpoints (Alertmanager's
webhook) that apply the rule item by item, so one bad item does not fail the whole batch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ragtasks_core.contract import safe_json

# Smaller bodies parse in microseconds: the thread hop would cost more than it saves.
THREAD_ABOVE_BYTES = 64 * 1024


def lenient_loads(data: bytes) -> Any:
    """Parse with only the structural bound (nesting); the values are checked item by item."""
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise safe_json.UnsafeJsonDecodeError(f"nested deeper than {safe_json.MAX_DEPTH} levels", "", 0) from exc
    except UnicodeDecodeError as exc:
        raise safe_json.UnsafeJsonDecodeError(f"the body is not UTF-8: {exc.reason}", "", exc.start) from exc
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= safe_json.MAX_DEPTH:
                raise safe_json.UnsafeJsonDecodeError(f"nested deeper than {safe_json.MAX_DEPTH} levels", "", 0)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


class SafeJsonRequest(Request):
    parse: Callable[[bytes], Any] = staticmethod(safe_json.loads)

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > THREAD_ABOVE_BYTES:
                self._json = await asyncio.to_thread(self.parse, body)
            else:
                self._json = self.parse(body)
        return self._json


class ItemsJsonRequest(SafeJsonRequest):
    parse = staticmethod(lenient_loads)


class SafeJsonRoute(APIRoute):
    request_class: type[SafeJsonRequest] = SafeJsonRequest

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        request_class = self.request_class

        async def handle(request: Request) -> Response:
            return await handler(request_class(request.scope, request.receive))

        return handle


class ItemsJsonRoute(SafeJsonRoute):
    request_class = ItemsJsonRequest
