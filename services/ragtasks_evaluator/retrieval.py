"""The retriever an evaluation asks, and the per-process caches behind the built-in ones.

``RAGTASKS_RETRIEVER`` names it: ``http`` (the RAG service's own endpoint, built per batch), or a
built-in one over the KB's active chunks -- ``bm25`` (an in-memory index per KB and version) or
``vector`` (the vector index: a Qdrant server, or embedded local mode in this process).

The caches live on one ``Retrievers`` object owned by the process's runtime (``for_runtime``),
not in module globals: a forked child starts with a fresh runtime and so with fresh caches, and
the state that says "this KB's embedded index matches Mongo at version v" is changed in one place
(``Retrievers.align``), whether an evaluation or the nightly maintenance asked for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pymongo.database import Database

from ragtasks_core.llm_policy import take_slot
from ragtasks_core.runtime import Runtime
from ragtasks_core.settings import Settings

from . import store
from .retrievers import Bm25Retriever, Retriever, VectorRetriever, http_retriever
from .vectors import IndexedChunk, QdrantIndex, build_embedder, qdrant_client_for

MAX_CACHED_KBS = 8
_RUNTIME_SLOT = "evaluator_retrievers"


class Retrievers:
    """Built-in retrievers of one process: BM25 per (KB, version), one vector index, alignment state."""

    def __init__(self, settings: Settings, gate: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.gate = gate  # the shared LLM limiter, taken before each remote embeddings call
        self._bm25: OrderedDict[str, tuple[int, Bm25Retriever]] = OrderedDict()
        self._aligned: dict[str, int] = {}
        self._index: QdrantIndex | None = None

    @property
    def index(self) -> QdrantIndex:
        """This process's vector index (a server client, or embedded local mode), built on first use."""
        if self._index is None:
            self._index = QdrantIndex(qdrant_client_for(self.settings), build_embedder(self.settings, self.gate))
        return self._index

    def build(self, db: Database, kb_id: str, config: dict[str, Any] | None = None) -> Retriever:
        """The retriever ``config`` (an evaluation's resolved ``retriever_config``) or else
        ``RAGTASKS_RETRIEVER`` names; built-in ones see the KB at its current version."""
        kind = (config or {}).get("kind") or self.settings.retriever
        if kind == "http":
            # raises RetrieverConfigError when misconfigured (no URL anywhere)
            return http_retriever(self.settings, kb_id, config)
        version = store.kb_version(db, kb_id) or 0
        if kind == "vector":
            if not self.settings.qdrant_url and self._aligned.get(kb_id) != version:
                # Embedded mode: this process's index is a cache of Mongo; bring it up to date first.
                self.align(db, kb_id)
            return VectorRetriever(self.index, kb_id)
        return self._bm25_for(db, kb_id, version)

    def align(self, db: Database, kb_id: str) -> dict[str, int]:
        """Make the vector index hold exactly the KB's active chunks; remember the version aligned."""
        version = store.kb_version(db, kb_id) or 0
        docs = store.chunks(db, kb_id, active_only=True)
        report = self.index.align(kb_id, [IndexedChunk(d["chunk_id"], d["text"], d["hash"]) for d in docs])
        self._aligned[kb_id] = version
        return report.as_dict()

    def _bm25_for(self, db: Database, kb_id: str, version: int) -> Bm25Retriever:
        cached = self._bm25.get(kb_id)
        if cached is not None and cached[0] == version:
            self._bm25.move_to_end(kb_id)
            return cached[1]
        docs = store.chunks(db, kb_id, active_only=True)
        retriever = Bm25Retriever([d["chunk_id"] for d in docs], [d["text"] for d in docs])
        self._bm25[kb_id] = (version, retriever)
        self._bm25.move_to_end(kb_id)
        while len(self._bm25) > MAX_CACHED_KBS:  # a worker serving many KBs keeps the recent ones
            self._bm25.popitem(last=False)
        return retriever


def resolve_config(
    settings: Settings, kb_spec: dict[str, Any] | None, evaluation_spec: dict[str, Any] | None
) -> dict[str, Any]:
    """The retriever an evaluation measures, recorded on its report: the evaluation's own spec,
    else its KB's (``PUT /v1/kbs/{kb_id}``), else the settings; unset fields from the settings.

    Only what decides the retriever's answers is recorded (never the auth header), so two
    reports with equal configs measured the same retriever.
    """
    spec = evaluation_spec or kb_spec or {"kind": settings.retriever}
    kind = spec["kind"]
    config: dict[str, Any] = {"kind": kind, "top_k": int(spec.get("top_k") or settings.retriever_top_k)}
    if kind == "http":
        config["url"] = spec.get("url") or settings.retriever_url
        config["ids_field"] = spec.get("ids_field") or settings.retriever_ids_field
    return config


def for_runtime(rt: Runtime) -> Retrievers:
    """The ``Retrievers`` of this process's runtime: created with it, gone with it (and after a fork).

    Kept in the runtime's instance dict, like its ``cached_property`` clients, so the core needs
    no knowledge of the evaluator.
    """
    slot: dict[str, Any] = rt.__dict__
    found = slot.get(_RUNTIME_SLOT)
    if not isinstance(found, Retrievers):
        found = slot[_RUNTIME_SLOT] = Retrievers(rt.settings, gate=lambda: take_slot(rt))
    return found
