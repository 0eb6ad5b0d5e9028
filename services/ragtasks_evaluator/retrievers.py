"""Retrievers under evaluation: the RAG service's own endpoint (``http``) or built-in ones.

Each answers ``search(question, top_k) -> [chunk ids, best first]``. An empty list is a valid
answer (a miss); ``RetrievalError`` means the retriever itself failed (HTTP error, timeout,
bad answer) -- the evaluator records that row as a miss with the error, never drops it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import httpx

from ragtasks_core.settings import Settings

from .logic import IdsFieldError, extract_ids
from .vectors import VectorIndex


class RetrievalError(Exception):
    """The retriever failed to answer (not: answered with nothing)."""


class RetrieverConfigError(ValueError):
    """The retriever is misconfigured (e.g. ``http`` without a URL): no question can be asked."""


class Retriever(Protocol):
    name: str

    def search(self, question: str, top_k: int) -> list[str]: ...


class HttpRetriever:
    """POST ``{"query", "top_k"}`` to the RAG service's retrieval endpoint; ids from a dotted path.

    Transient failures (connection errors, timeouts, 429 and 5xx) are retried a few times with a
    short backoff inside the call; whatever still fails becomes a ``RetrievalError``.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        ids_field: str,
        auth_header: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        headers = {}
        if auth_header:
            name, sep, value = auth_header.partition(":")
            headers = {name.strip(): value.strip()} if sep and value.strip() else {"Authorization": auth_header}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self.url = url
        self.ids_field = ids_field
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def search(self, question: str, top_k: int) -> list[str]:
        last = "no attempt"
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.url, json={"query": question, "top_k": top_k})
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise RetrievalError(f"HTTP {response.status_code}: {response.text[:200]}")
            try:
                return extract_ids(response.json(), self.ids_field)[:top_k]
            except (ValueError, IdsFieldError) as exc:
                raise RetrievalError(f"bad retriever answer: {exc}") from exc
        raise RetrievalError(f"retriever failed after {self.max_attempts} attempts: {last}")

    def close(self) -> None:
        self._client.close()


class Bm25Retriever:
    """BM25 (``bm25s``) over a KB's chunks, built in memory in the worker process."""

    name = "bm25"

    def __init__(self, chunk_ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self._ids = list(chunk_ids)
        self._model = bm25s.BM25()
        if self._ids:
            tokens = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
            self._model.index(tokens, show_progress=False)

    def search(self, question: str, top_k: int) -> list[str]:
        import bm25s

        if not self._ids:
            return []
        tokens = bm25s.tokenize([question], stopwords="en", show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(top_k, len(self._ids))
        docs, scores = self._model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [self._ids[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if float(s) > 0]


class VectorRetriever:
    """Dense search through the vector index (see ``vectors.py``)."""

    name = "vector"

    def __init__(self, index: VectorIndex, kb_id: str) -> None:
        self.index = index
        self.kb_id = kb_id

    def search(self, question: str, top_k: int) -> list[str]:
        try:
            return self.index.search(self.kb_id, question, top_k)
        except Exception as exc:  # a broken index is a failed retrieval, recorded on the row
            raise RetrievalError(f"vector search failed: {exc}") from exc


def http_retriever(settings: Settings) -> HttpRetriever:
    problem = settings.retriever_problem()
    if problem is not None or not settings.retriever_url:
        raise RetrieverConfigError(problem or "no retriever URL")
    header = settings.retriever_auth_header.get_secret_value() if settings.retriever_auth_header else None
    return HttpRetriever(
        settings.retriever_url,
        ids_field=settings.retriever_ids_field,
        auth_header=header,
        timeout=settings.retriever_timeout_seconds,
        max_attempts=settings.retriever_max_attempts,
    )
