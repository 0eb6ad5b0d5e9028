"""A stand-in for a RAG service's retrieval endpoint: BM25 (bm25s) over chunks it was given.

Speaks what ``RAGTASKS_RETRIEVER=http`` expects: ``POST {"query", "top_k", "kb_id"}`` ->
``{"results": [{"chunk_id": ..., "score": ...}]}``, on any path (a URL template puts the KB in
it); a body that ``docs/retriever.schema.json`` refuses gets a 422. Tests can corrupt its index
(delete chunks), and make it answer empty lists, errors or slowly for questions that contain a marker word.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

from ragtasks_evaluator.retrievers import Bm25Retriever

_SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "retriever.schema.json").read_text())
REQUEST_SCHEMA = jsonschema.Draft202012Validator({**_SCHEMA, "$ref": "#/$defs/request"})


class FakeRetriever:
    def __init__(self, chunks: list[dict[str, str]], *, token: str = "secret-token") -> None:  # noqa: S107
        self.chunks = {c["chunk_id"]: c["text"] for c in chunks}
        self.token = token
        self.deleted: set[str] = set()
        self.empty_for: set[str] = set()  # queries answered with an empty list
        self.error_for: set[str] = set()  # queries answered with HTTP 500, always
        self.slow_seconds = 0.0
        self.requests = 0
        self.top_ks: list[int] = []  # the top_k of every request, in arrival order
        self.calls: list[tuple[str, str]] = []  # (path, kb_id) of every request
        self.invalid: list[str] = []  # why a request body broke the documented contract
        self._lock = threading.Lock()
        self._rebuild()
        self._server: ThreadingHTTPServer | None = None

    def _rebuild(self) -> None:
        ids = sorted(i for i in self.chunks if i not in self.deleted)
        self._bm25 = Bm25Retriever(ids, [self.chunks[i] for i in ids])

    def delete(self, chunk_ids: set[str]) -> None:
        with self._lock:
            self.deleted |= chunk_ids
            self._rebuild()

    @property
    def url(self) -> str:
        return f"{self.base}/retrieve"

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, query: str, top_k: int) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            self.top_ks.append(top_k)
            ids = self._bm25.search(query, top_k)
        if query in self.error_for:
            return 500, {"error": "scripted failure"}
        if query in self.empty_for:
            return 200, {"results": []}
        return 200, {"results": [{"chunk_id": i, "score": 1.0 / (n + 1)} for n, i in enumerate(ids)]}

    def start(self) -> FakeRetriever:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                errors = [e.message for e in REQUEST_SCHEMA.iter_errors(body)]
                with fake._lock:
                    fake.calls.append((self.path, str(body.get("kb_id"))))
                    fake.invalid.extend(errors)
                payload: dict[str, Any]
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    status, payload = 401, {"error": "unauthorized"}
                elif errors:
                    status, payload = 422, {"errors": errors}
                else:
                    if fake.slow_seconds:
                        time.sleep(fake.slow_seconds)
                    status, payload = fake._answer(str(body.get("query", "")), int(body.get("top_k", 10)))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left: nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
