"""Ranking metrics of one query and their mean over a run: pure functions, no rounding.

Each function takes the retrieved ids (best first) and the query's judgements
``{chunk_id: grade}`` (BEIR's qrels; a generated question has ``{its chunk: 1}``). A grade > 0
is relevant; 0 or less is judged not relevant. The definitions are trec_eval's, so they agree with
``pytrec_eval`` to 1e-9 (``tests/unit/evaluator/test_ir_metrics.py`` checks every one):

- ``hit_rate@k`` (trec_eval ``success_k``): 1 if any relevant id is in the top k.
- ``recall@k``: relevant ids in the top k / all relevant ids of the query.
- ``precision@k`` (``P_k``): relevant ids in the top k / k (k, not the number retrieved).
- ``mrr@k`` (``recip_rank`` of the run cut at k): 1 / rank of the first relevant id in the top k.
- ``ndcg@k`` (``ndcg_cut_k``): linear gain (the grade), discount log2(rank + 1), normalised by the
  ideal ordering of the judged grades.
- ``map@k`` (``map_cut_k``): the sum of precision@rank over the relevant ids in the top k, divided
  by all relevant ids of the query (not min(R, k), as trec_eval does).

A retrieved id that repeats counts at its first rank only (a retriever returning the same chunk
twice must not score twice). A query without any relevant id scores 0 everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

# The names a report carries, each as "<name>@<k>" (``metric_key``).
METRIC_NAMES = ("hit_rate", "recall", "precision", "mrr", "ndcg", "map")

Qrels = Mapping[str, float]


def metric_key(name: str, k: int) -> str:
    return f"{name}@{k}"


def _top(retrieved: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids, in order."""
    seen: set[str] = set()
    top: list[str] = []
    for chunk_id in retrieved:
        if chunk_id not in seen:
            seen.add(chunk_id)
            top.append(chunk_id)
            if len(top) == k:
                break
    return top


def _relevant(qrels: Qrels) -> set[str]:
    return {chunk_id for chunk_id, grade in qrels.items() if grade > 0}


def hit_rate_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    relevant = _relevant(qrels)
    return 1.0 if any(c in relevant for c in _top(retrieved, k)) else 0.0


def recall_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return sum(1 for c in _top(retrieved, k) if c in relevant) / len(relevant)


def precision_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    relevant = _relevant(qrels)
    return sum(1 for c in _top(retrieved, k) if c in relevant) / k if k > 0 else 0.0


def mrr_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    relevant = _relevant(qrels)
    for rank, chunk_id in enumerate(_top(retrieved, k), start=1):
        if chunk_id in relevant:
            return 1.0 / rank
    return 0.0


def _dcg(gains: Iterable[float]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    ideal = _dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    gains = [max(0.0, float(qrels.get(c, 0))) for c in _top(retrieved, k)]
    return _dcg(gains) / ideal


def map_at(retrieved: Sequence[str], qrels: Qrels, k: int) -> float:
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for rank, chunk_id in enumerate(_top(retrieved, k), start=1):
        if chunk_id in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


FUNCTIONS = {
    "hit_rate": hit_rate_at,
    "recall": recall_at,
    "precision": precision_at,
    "mrr": mrr_at,
    "ndcg": ndcg_at,
    "map": map_at,
}


def query_metrics(retrieved: Sequence[str], qrels: Qrels, ks: Iterable[int]) -> dict[str, float]:
    """Every metric at every k for one query: ``{"ndcg@10": 0.63, ...}``."""
    return {metric_key(name, k): fn(retrieved, qrels, k) for k in sorted(set(ks)) for name, fn in FUNCTIONS.items()}


def mean_metrics(runs: Sequence[tuple[Sequence[str], Qrels]], ks: Iterable[int]) -> dict[str, float]:
    """The mean of every metric over the queries of a run (a query that failed still counts, as 0)."""
    ks = sorted(set(ks))
    totals = dict.fromkeys((metric_key(n, k) for k in ks for n in METRIC_NAMES), 0.0)
    for retrieved, qrels in runs:
        for key, value in query_metrics(retrieved, qrels, ks).items():
            totals[key] += value
    n = len(runs)
    return {key: (value / n if n else 0.0) for key, value in totals.items()}


def canonical_run(retrieved: Sequence[str], aliases: Mapping[str, str]) -> list[str]:
    """Retrieved ids with merged chunks replaced by the id they stand for (``aliases``), so a
    retrieved keeper counts for the sampled chunk merged into it, and counts once."""
    return _top([aliases.get(c, c) for c in retrieved], len(retrieved))
