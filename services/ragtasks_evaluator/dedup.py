"""Finding duplicate chunks: exact (same content hash) and near (MinHash over word shingles).

Pure: plain data in, groups out. The keeper of a group is its smallest chunk id, so the result
does not depend on the order chunks are read in and re-running maintenance changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
SHINGLE_WORDS = 3
_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ChunkText:
    chunk_id: str
    text: str
    content_hash: str


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _minhash(text: str) -> MinHash:
    mh = MinHash(num_perm=NUM_PERM, seed=1)
    for shingle in shingles(text):
        mh.update(shingle.encode("utf-8"))
    return mh


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller id is the root, so the keeper is deterministic.
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(chunks: Sequence[ChunkText], threshold: float) -> dict[str, list[str]]:
    """``{keeper_id: [merged ids...]}`` for every group of two or more duplicates.

    Exact duplicates share a content hash. Near duplicates have an estimated Jaccard similarity
    of their word 3-shingles of at least ``threshold`` (MinHash LSH finds the candidates, the
    estimate is then checked pairwise so LSH false positives are dropped).
    """
    uf = _UnionFind()
    by_hash: dict[str, str] = {}
    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        first = by_hash.setdefault(chunk.content_hash, chunk.chunk_id)
        if first != chunk.chunk_id:
            uf.union(first, chunk.chunk_id)
    if threshold < 1.0:
        representatives = sorted(by_hash.values())
        texts = {c.chunk_id: c.text for c in chunks}
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        hashes: dict[str, MinHash] = {}
        for chunk_id in representatives:
            if not shingles(texts[chunk_id]):
                continue
            mh = _minhash(texts[chunk_id])
            for other in lsh.query(mh):
                if hashes[other].jaccard(mh) >= threshold:
                    uf.union(other, chunk_id)
            lsh.insert(chunk_id, mh)
            hashes[chunk_id] = mh
    groups: dict[str, list[str]] = {}
    for chunk in chunks:
        root = uf.find(chunk.chunk_id)
        if root != chunk.chunk_id:
            groups.setdefault(root, []).append(chunk.chunk_id)
    return {keeper: sorted(ids) for keeper, ids in sorted(groups.items())}
