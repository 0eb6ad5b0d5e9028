"""A local HTTP server that speaks OpenAI's chat-completions (and embeddings) wire format.

Driven through the real ``openai`` client. Tests script its behaviour: answer normally, return
429/503 (with or without ``Retry-After``), or hang past the client's timeout. It records when
each request arrived, so tests can measure backoff schedules and rates.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: ``status`` 200 answers with ``text``; others with an error body."""

    status: int = 200
    text: str | None = None
    retry_after: str | None = None
    hang_seconds: float = 0.0


@dataclass
class Request:
    at: float
    path: str
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    latency_seconds: float = 0.0
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)
    default_text: str | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def chat_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(Request(time.time(), path, body))
            return self.script.popleft() if self.script else Reply()

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                    return
                reply = fake._next(self.path, body)
                if reply.hang_seconds:
                    time.sleep(reply.hang_seconds)
                if fake.latency_seconds:
                    time.sleep(fake.latency_seconds)
                if reply.status != 200:
                    headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                    kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
                    self._send(
                        reply.status,
                        {"error": {"message": f"scripted {reply.status}", "type": kind, "code": kind}},
                        headers,
                    )
                    return
                if self.path.endswith("/embeddings"):
                    self._send(200, fake._embeddings(body))
                else:
                    self._send(200, fake._completion(body, reply))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        messages = body.get("messages", [])
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        text = reply.text or self.default_text
        if text is None:
            last = str(messages[-1].get("content", "")) if messages else ""
            text = "SUMMARY: " + " ".join(last.split()[-40:])
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(text) // 4,
                "total_tokens": prompt_chars // 4 + len(text) // 4,
            },
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        data = []
        for i, text in enumerate(inputs):
            vec = [0.0] * 16
            for j, ch in enumerate(str(text)):
                vec[(ord(ch) + j) % 16] += 1.0
            data.append({"object": "embedding", "index": i, "embedding": vec})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embed"),
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
