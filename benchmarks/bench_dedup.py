"""Near-duplicate search: recall of MinHash LSH at the threshold, candidates it proposes, speed.

A KB of the Lee news chunks and the Chinese zh_kb chunks, plus generated pairs (Chinese and
English, ``tests/unit/evaluator/pairs.py``) of exact Jaccard 0.90-1.00 (must be merged) and
0.60-0.85 (must not be). Measures ``duplicate_groups`` at threshold 0.9 with the banding chosen
from the S-curve (``dedup.lsh_bands``), and, on the same shingle sets, the candidates that
datasketch's own banding for 64 permutations (what the evaluator used before) would propose.
Pure CPU, no services. Prints one JSON line.

    .venv/bin/python -m benchmarks.bench_dedup [--pairs 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from datasketch import MinHashLSH
from tests.unit.evaluator.pairs import Pair, zh_and_en_pairs

from ragtasks_evaluator.corpus import lee_chunks, load_zh_kb
from ragtasks_evaluator.dedup import ChunkText, candidate_pairs, duplicate_groups, lsh_bands, shingles

THRESHOLD = 0.9


def _kb(high: list[Pair], low: list[Pair]) -> list[ChunkText]:
    chunks = [ChunkText(c["chunk_id"], c["text"]) for c in lee_chunks() + load_zh_kb().chunks]
    for tag, pairs in (("hi", high), ("lo", low)):
        for n, (a, b, _) in enumerate(pairs):
            chunks += [ChunkText(f"{tag}{n:05d}-a", a), ChunkText(f"{tag}{n:05d}-b", b)]
    return chunks


def _pair_recall(candidates: list[tuple[str, str]], tag: str, count: int) -> float:
    found = {a[: -len("-a")] for a, b in candidates if a.startswith(tag) and b == a[:-1] + "b"}
    return len(found) / count if count else 0.0


def measure(pairs_per_language: int) -> dict[str, Any]:
    high = zh_and_en_pairs(THRESHOLD, 1.0 + 1e-9, pairs_per_language, seed=21)
    low = zh_and_en_pairs(0.6, THRESHOLD - 0.05, pairs_per_language, seed=31)
    chunks = _kb(high, low)
    started = time.perf_counter()
    groups = duplicate_groups(chunks, THRESHOLD)
    seconds = time.perf_counter() - started
    merged = {(keeper, i) for keeper, ids in groups.items() for i in ids}
    sets = {c.chunk_id: items for c in chunks if (items := shingles(c.text))}
    ours = candidate_pairs(sets, lsh_bands(THRESHOLD))
    old = MinHashLSH(threshold=THRESHOLD, num_perm=64)
    before = candidate_pairs(sets, (old.b, old.r))
    return {
        "chunks": len(chunks),
        "threshold": THRESHOLD,
        "seconds": round(seconds, 3),
        "chunks_per_second": round(len(chunks) / seconds, 1),
        "bands_rows": list(lsh_bands(THRESHOLD)),
        "recall_at_0.90_1.00": round(
            sum((f"hi{n:05d}-a", f"hi{n:05d}-b") in merged for n in range(len(high))) / len(high), 4
        ),
        "merged_below_0.85": sum((f"lo{n:05d}-a", f"lo{n:05d}-b") in merged for n in range(len(low))),
        "candidates": len(ours),
        "pairs_generated": {"0.90-1.00": len(high), "0.60-0.85": len(low)},
        "datasketch_default_64": {
            "bands_rows": [old.b, old.r],
            "candidate_recall_at_0.90_1.00": round(_pair_recall(before, "hi", len(high)), 4),
            "candidates": len(before),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300, help="generated pairs per language and band")
    args = parser.parse_args(argv if argv is not None else [])
    print(json.dumps(measure(args.pairs)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
