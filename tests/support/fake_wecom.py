"""A local HTTP server that behaves like the WeCom (企业微信) group robot webhook.

``POST /cgi-bin/webhook/send?key=KEY`` with ``{"msgtype": "markdown"|"text", ...}``. Like the real
robot it answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` -- and errors as HTTP 200 with
a non-zero errcode: 93000 for an unknown key, 40008 for a bad msgtype, 40058 for a missing or
oversized content (markdown at most 4096 bytes UTF-8, text at most 2048), 45009 when a key
sends more than ``limit_per_window`` messages in ``window_seconds``. Tests script errcodes
(``push(45009, -1)``) and read what was delivered (``messages()``).

``POST /generic`` is a generic JSON webhook: it records the body and answers ``script_http``
statuses (200 by default).
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.http_double import HttpDouble, JsonResponse

MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048
ERRMSG = {
    0: "ok",
    -1: "system busy",
    40008: "invalid message type",
    40058: "invalid parameter",
    45009: "api freq out of limit",
    93000: "invalid webhook url",
}


@dataclass
class Received:
    at: float
    key: str
    msgtype: str
    content: str
    errcode: int
    body: dict[str, Any]


@dataclass
class FakeWeCom(HttpDouble):
    valid_keys: set[str] = field(default_factory=lambda: {"good-key"})
    limit_per_window: int = 20
    window_seconds: float = 60.0
    script: deque[int] = field(default_factory=deque)
    script_http: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    generic: list[dict[str, Any]] = field(default_factory=list)

    def url(self, key: str = "good-key") -> str:
        return f"{self.origin}/cgi-bin/webhook/send?key={key}"

    @property
    def generic_url(self) -> str:
        return f"{self.origin}/generic"

    def push(self, *errcodes: int) -> None:
        """Answer the next requests with these errcodes (after validation passes)."""
        with self._lock:
            self.script.extend(errcodes)

    def messages(self) -> list[Received]:
        """Messages the robot accepted (errcode 0), in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.errcode == 0]

    def attempts(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def max_in_window(self, window: float) -> int:
        """The most accepted messages within any ``window`` seconds."""
        times = [m.at for m in self.messages()]
        best = 0
        for i, start in enumerate(times):
            best = max(best, sum(1 for t in times[i:] if t - start < window))
        return best

    def _answer(self, key: str, body: Any) -> int:
        if key not in self.valid_keys:
            return 93000
        if not isinstance(body, dict) or body.get("msgtype") not in ("markdown", "text"):
            return 40008
        msgtype = body["msgtype"]
        part = body.get(msgtype)
        content = part.get("content") if isinstance(part, dict) else None
        if not isinstance(content, str) or not content:
            return 40058
        limit = MARKDOWN_MAX_BYTES if msgtype == "markdown" else TEXT_MAX_BYTES
        if len(content.encode("utf-8")) > limit:
            return 40058
        if self.script:
            return self.script.popleft()
        now = time.time()
        recent = [r for r in self.requests if r.key == key and r.errcode == 0 and now - r.at < self.window_seconds]
        return 45009 if len(recent) >= self.limit_per_window else 0

    def handle_post(self, path: str, raw: bytes) -> JsonResponse:
        parsed = urlparse(path)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if parsed.path == "/generic":
            return self._generic(body)
        if parsed.path != "/cgi-bin/webhook/send":
            return JsonResponse(404, {"errcode": 404, "errmsg": "not found"})
        key = (parse_qs(parsed.query).get("key") or [""])[0]
        with self._lock:
            errcode = self._answer(key, body)
            msgtype = body.get("msgtype", "") if isinstance(body, dict) else ""
            part = body.get(msgtype) if isinstance(body, dict) else None
            content = part.get("content", "") if isinstance(part, dict) else ""
            self.requests.append(Received(time.time(), key, msgtype, content, errcode, body or {}))
        return JsonResponse(200, {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})

    def _generic(self, body: Any) -> JsonResponse:
        with self._lock:
            self.generic.append({"at": time.time(), "body": body})
            status = self.script_http.popleft() if self.script_http else 200
        return JsonResponse(status, {"ok": status == 200})
