"""Retrievers under evaluation: the RAG service's own endpoint (``http``) or built-in ones.

Each answers ``search(question, top_k) -> [chunk ids, best first]``. An empty list is a valid
answer (a miss); ``RetrievalError`` means the retriever itself failed (HTTP error, timeout,
bad answer) -- the evaluator records that row as a miss with the error, never drops it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

import httpx

from ragtasks_core.llm import LLMError
from ragtasks_core.llm_policy import LLMDeferred
from ragtasks_core.settings import Settings
from ragtasks_core.text import tokenize

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
    """POST ``{"query", "top_k", "kb_id"}`` to the RAG service's retrieval endpoint; ids from a dotted path.

    The contract is ``docs/retriever.schema.json``. ``url`` may carry ``{kb_id}`` (the KB's id,
    URL-quoted), for a service with one endpoint per knowledge base.

    Transient failures (connection errors, timeouts, 429 and 5xx) are retried a few times with a
    short backoff inside the call; whatever still fails becomes a ``RetrievalError``.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        kb_id: str,
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
        self.kb_id = kb_id
        self.url = url.replace("{kb_id}", quote(kb_id, safe=""))
        self.ids_field = ids_field
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def search(self, question: str, top_k: int) -> list[str]:
        last = "no attempt"
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.url, json=request_body(question, top_k, self.kb_id))
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
    """BM25 (``bm25s``) over a KB's chunks, built in memory in the worker process.

    Chunks and questions are split by the core analyzer (``ragtasks_core.text``), so Chinese is
    segmented into words rather than kept as one token per clause, and bm25s is given the token
    lists as they are (its own tokenizer is English-only: a word regex and English stopwords).
    """

    name = "bm25"

    def __init__(self, chunk_ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        self._ids = list(chunk_ids)
        self._model = bm25s.BM25()
        self._vocab: frozenset[str] = frozenset()
        corpus = [tokenize(t) for t in texts]
        if any(corpus):  # a KB of punctuation or stopwords only has nothing to find (bm25s would fail)
            self._model.index(corpus, show_progress=False)
            self._vocab = frozenset(self._model.vocab_dict) - {""}

    def search(self, question: str, top_k: int) -> list[str]:
        tokens = [t for t in tokenize(question) if t in self._vocab]
        if not tokens:  # nothing the KB contains (or only stopwords): a miss, not an error
            return []
        k = min(top_k, len(self._ids))
        docs, scores = self._model.retrieve([tokens], k=k, show_progress=False, n_threads=1)
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
        except (LLMError, LLMDeferred):
            raise  # the embeddings endpoint: the LLM policy's backoff and give-up, as for chat
        except Exception as exc:  # a broken index is a failed retrieval, recorded on the row
            raise RetrievalError(f"vector search failed: {exc}") from exc


def request_body(question: str, top_k: int, kb_id: str) -> dict[str, object]:
    """What the http retriever posts (``docs/retriever.schema.json``, ``$defs.request``)."""
    return {"query": question, "top_k": top_k, "kb_id": kb_id}


def http_retriever(settings: Settings, kb_id: str = "", config: dict[str, object] | None = None) -> HttpRetriever:
    """The http retriever for one KB: ``config`` (a resolved ``RetrieverSpec``) over the settings."""
    config = config or {}
    url = str(config.get("url") or settings.retriever_url or "")
    if not url:
        raise RetrieverConfigError(
            settings.retriever_problem()
            or "the http retriever needs a url: the KB's or evaluation's retriever has none, nor RAGTASKS_RETRIEVER_URL"
        )
    header = settings.retriever_auth_header.get_secret_value() if settings.retriever_auth_header else None
    return HttpRetriever(
        url,
        kb_id=kb_id,
        ids_field=str(config.get("ids_field") or settings.retriever_ids_field),
        auth_header=header,
        timeout=settings.retriever_timeout_seconds,
        max_attempts=settings.retriever_max_attempts,
    )
