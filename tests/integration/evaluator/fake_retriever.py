"""A stand-in for a RAG service's retrieval endpoint: BM25 (bm25s) over chunks it was given.

Speaks what ``RAGTASKS_RETRIEVER=http`` expects: ``POST {"query", "top_k", "kb_id"}`` ->
``{"results": [{"chunk_id": ..., "score": ...}]}``, on any path (a URL template puts the KB in
it); a body that ``docs/retriever.schema.json`` refuses gets a 422. Tests can corrupt its index
(delete chunks), and make it answer empty lists, errors or slowly for questions that contain a marker word.
"""

from __future__ import annotations

import json
import time
from email.message import Message
from pathlib import Path

import jsonschema

from ragtasks_evaluator.retrievers import Bm25Retriever
from tests.support.http_double import HttpDouble, JsonResponse

_SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "retriever.schema.json").read_text())
REQUEST_SCHEMA = jsonschema.Draft202012Validator({**_SCHEMA, "$ref": "#/$defs/request"})


class FakeRetriever(HttpDouble):
    def __init__(self, chunks: list[dict[str, str]], *, token: str = "secret-token") -> None:  # noqa: S107
        super().__init__()
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
        self._rebuild()

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
        return self.origin

    def env(self) -> dict[str, str]:
        """The worker settings that point ``RAGTASKS_RETRIEVER=http`` at this double."""
        return {
            "RAGTASKS_RETRIEVER": "http",
            "RAGTASKS_RETRIEVER_URL": self.url,
            "RAGTASKS_RETRIEVER_AUTH_HEADER": f"Bearer {self.token}",
            "RAGTASKS_RETRIEVER_IDS_FIELD": "results.*.chunk_id",
        }

    def handle_request(self, path: str, headers: Message, raw: bytes) -> JsonResponse:
        body = json.loads(raw or b"{}")
        errors = [e.message for e in REQUEST_SCHEMA.iter_errors(body)]
        with self._lock:
            self.calls.append((path, str(body.get("kb_id"))))
            self.invalid.extend(errors)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return JsonResponse(401, {"error": "unauthorized"})
        if errors:
            return JsonResponse(422, {"errors": errors})
        if self.slow_seconds:
            time.sleep(self.slow_seconds)
        return self._answer(str(body.get("query", "")), int(body.get("top_k", 10)))

    def _answer(self, query: str, top_k: int) -> JsonResponse:
        with self._lock:
            self.requests += 1
            self.top_ks.append(top_k)
            ids = self._bm25.search(query, top_k)
        if query in self.error_for:
            return JsonResponse(500, {"error": "scripted failure"})
        if query in self.empty_for:
            return JsonResponse(200, {"results": []})
        return JsonResponse(200, {"results": [{"chunk_id": i, "score": 1.0 / (n + 1)} for n, i in enumerate(ids)]})
