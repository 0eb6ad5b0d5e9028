"""The small HTTP server under every HTTP double (OpenAI, WeCom, the RAG service's retriever).

A double is a dataclass that subclasses ``HttpDouble`` and answers each POST in ``handle_post``
with a ``JsonResponse`` (in ``handle_request`` if it needs the request's headers); the base runs
a ``ThreadingHTTPServer`` on 127.0.0.1 and a free port (``start()``/``stop()``, ``origin``), one
thread per request, so a scripted hang holds only its own client. ``_lock`` guards what the
handler threads and the test share (scripts, request logs).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class JsonResponse:
    status: int
    payload: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class HttpDouble:
    # Not constructor arguments: a subclass's own fields keep their positions.
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def handle_post(self, path: str, raw: bytes) -> JsonResponse:
        """Answer ``POST path`` with body ``raw`` (runs on the request's own thread)."""
        raise NotImplementedError

    def handle_request(self, path: str, headers: Message, raw: bytes) -> JsonResponse:
        """Answer ``POST path``; a double that checks headers (``Authorization``) overrides this."""
        return self.handle_post(path, raw)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, once started."""
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, double: HttpDouble) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.double = double


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(self.server.double.handle_request(self.path, self.headers, raw))

    def _send(self, response: JsonResponse) -> None:
        data = json.dumps(response.payload).encode()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nobody is left to answer
