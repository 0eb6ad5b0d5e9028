"""Pure recall-evaluation logic: sampling, scoring, comparing reports, reading retriever answers.

No Celery, no Mongo, no prometheus here -- plain functions over plain data, unit-tested alone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import ir_metrics

# --- sampling ----------------------------------------------------------------------------------


def sample_ids(ids: Iterable[str], size: int, seed: int) -> list[str]:
    """A reproducible random sample: the same ids, size and seed always give the same sample.

    The ids are sorted first, so the order Mongo returns them in does not matter (``$sample``
    cannot be seeded, so it is not used).
    """
    ordered = sorted(set(ids))
    return random.Random(seed).sample(ordered, min(size, len(ordered)))


def batch_bounds(total: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges of the batches of a sample of ``total`` chunks."""
    return [(start, min(total, start + batch_size)) for start in range(0, total, batch_size)]


def normalize_ks(ks: Iterable[int]) -> list[int]:
    return sorted({int(k) for k in ks})


def retrieval_depth(retriever_top_k: int, ks: Iterable[int]) -> int:
    """How many ids to ask the retriever for: ``RAGTASKS_RETRIEVER_TOP_K``, but never fewer than the
    largest k of the evaluation (else ``hit_rate@k`` for that k could not be scored)."""
    return max([retriever_top_k, *ks])


# --- scoring -----------------------------------------------------------------------------------


def rank_of(source_ids: Iterable[str], retrieved: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved id that is the source chunk (or a chunk merged into it).

    An empty retrieval is simply a miss: ``None``.
    """
    wanted = set(source_ids)
    for position, chunk_id in enumerate(retrieved, start=1):
        if chunk_id in wanted:
            return position
    return None


def metric_key(name: str, k: int) -> str:
    return f"{name}@{k}"


def score(ranks: Sequence[int | None], ks: Iterable[int]) -> dict[str, float]:
    """``hit_rate@k`` and ``mrr@k`` over every row; a miss (``None``) counts as 0, never dropped."""
    result: dict[str, float] = {}
    n = len(ranks)
    for k in normalize_ks(ks):
        hits = [r for r in ranks if r is not None and r <= k]
        result[metric_key("hit_rate", k)] = round(len(hits) / n, 6) if n else 0.0
        result[metric_key("mrr", k)] = round(sum(1.0 / r for r in hits) / n, 6) if n else 0.0
    return result


def row_run(chunk_id: str, row: dict[str, Any] | None) -> tuple[list[str], dict[str, float]]:
    """One row as (retrieved ids, judgements) for ``ir_metrics``: a generated question's only
    relevant chunk is its own (grade 1); a labelled query carries its judgements (``relevant``:
    ``[[chunk_id, grade], ...]``); ``aliases`` (``[[alias, chunk], ...]``) are retrieved ids that
    stand for a relevant chunk (merged into it, or its keeper). No row: nothing retrieved."""
    if row is None:
        return [], {chunk_id: 1.0}
    qrels = {str(c): float(g) for c, g in row.get("relevant") or [[chunk_id, 1]]}
    aliases = {str(a): str(c) for a, c in row.get("aliases") or []}
    return ir_metrics.canonical_run([str(c) for c in row.get("retrieved") or []], aliases), qrels


# A query of an evaluation: (sampled chunk or labelled query id, question index).
QueryKey = tuple[str, int]


def query_keys(chunk_ids: Sequence[str], per_chunk: int = 1) -> list[QueryKey]:
    """Every query of an evaluation: each sampled chunk's ``per_chunk`` questions, each its own query."""
    return [(c, index) for c in chunk_ids for index in range(per_chunk)]


def row_query(row: dict[str, Any]) -> QueryKey:
    """The query a row answers (rows written before questions had an index are question 0)."""
    return str(row["chunk_id"]), int(row.get("question_index") or 0)


def score_queries(
    keys: Sequence[QueryKey], rows: dict[QueryKey, dict[str, Any]], ks: Iterable[int]
) -> dict[str, float]:
    """Every metric of ``ir_metrics`` at every k over the queries (a missing row counts as 0),
    rounded for the report; ``hit_rate@k`` and ``mrr@k`` equal ``score`` over the rows' ranks."""
    runs = [row_run(chunk_id, rows.get((chunk_id, index))) for chunk_id, index in keys]
    return {key: round(value, 6) for key, value in ir_metrics.mean_metrics(runs, ks).items()}


def score_rows(chunk_ids: Sequence[str], rows: dict[str, dict[str, Any]], ks: Iterable[int]) -> dict[str, float]:
    """:func:`score_queries` of one question per chunk, rows keyed by chunk id."""
    return score_queries(query_keys(chunk_ids), {(c, 0): r for c, r in rows.items()}, ks)


# What makes two reports of one KB comparable: the same retriever (as configured), the same
# questions (writer and model, and how many per chunk: stored, so the same text gets the same
# question), the same sample (seed and size) and the same k. Nightly reports share all of these
# by construction; an ad-hoc run with another seed, size, k or retriever is compared only with its like.
COMPARABLE_FIELDS = ("retriever_config", "question_generator", "questions_per_chunk", "seed", "sample_size", "k")


def comparison_key(evaluation: dict[str, Any]) -> str:
    """The fields of ``COMPARABLE_FIELDS`` as one canonical string, recorded on the evaluation."""
    return json.dumps({f: evaluation.get(f) for f in COMPARABLE_FIELDS}, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Drop:
    """A ``hit_rate@k`` below what it is held to: the previous comparable report, the KB's
    pinned baseline (both by ``RAGTASKS_EVAL_DROP_THRESHOLD``) or the absolute floor
    (``RAGTASKS_EVAL_MIN_HIT_RATE``); ``against`` says which, ``previous`` is that reference value."""

    metric: str
    previous: float
    current: float
    against: str = "previous"

    @property
    def delta(self) -> float:
        return round(self.current - self.previous, 6)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "previous": self.previous,
            "current": self.current,
            "delta": self.delta,
            "against": self.against,
        }


def compare(
    previous: dict[str, float], current: dict[str, float], threshold: float, *, against: str = "previous"
) -> list[Drop]:
    """The ``hit_rate@k`` values that fell by ``threshold`` or more since the reference report."""
    drops = []
    for key, value in current.items():
        if not key.startswith("hit_rate@") or key not in previous:
            continue
        if previous[key] - value >= threshold - 1e-9:
            drops.append(Drop(key, previous[key], value, against))
    return drops


def below_floor(current: dict[str, float], floor: float) -> list[Drop]:
    """The ``hit_rate@k`` values under the absolute floor (0: no floor)."""
    if floor <= 0:
        return []
    return [
        Drop(key, floor, value, "floor")
        for key, value in current.items()
        if key.startswith("hit_rate@") and value < floor - 1e-9
    ]


def drift(
    current: dict[str, float],
    *,
    previous: dict[str, float] | None,
    baseline: dict[str, float] | None,
    threshold: float,
    floor: float,
    baseline_is_previous: bool = False,
) -> list[Drop]:
    """Every way a report falls short: against the previous report, the baseline, the floor.

    When the pinned baseline is the previous report itself, a drop is said once, against the
    baseline (the reference an operator chose), not twice with the same numbers."""
    drops = compare(previous, current, threshold) if previous is not None and not baseline_is_previous else []
    if baseline is not None:
        drops += compare(baseline, current, threshold, against="baseline")
    return drops + below_floor(current, floor)


# --- retriever answers -------------------------------------------------------------------------


class IdsFieldError(ValueError):
    """The retriever's answer does not have chunk ids where ``RAGTASKS_RETRIEVER_IDS_FIELD`` says."""


def extract_ids(document: Any, path: str) -> list[str]:
    """Follow a dotted path (``*`` = every list element) to the chunk ids of a retriever answer.

    ``"ids"`` -> ``doc["ids"]``; ``"results.*.chunk_id"`` -> ``[r["chunk_id"] for r in doc["results"]]``.
    An empty list is a valid answer (a miss); a missing field is an error.
    """
    values: list[Any] = [document]
    for part in [p for p in path.split(".") if p]:
        nxt: list[Any] = []
        for value in values:
            if part == "*":
                if not isinstance(value, list):
                    raise IdsFieldError(f"expected a list at '*' in {path!r}")
                nxt.extend(value)
            elif isinstance(value, dict) and part in value:
                nxt.append(value[part])
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                nxt.append(value[int(part)])
            else:
                raise IdsFieldError(f"field {part!r} of {path!r} is missing in the retriever's answer")
        values = nxt
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    ids = []
    for value in values:
        if isinstance(value, dict):
            raise IdsFieldError(f"{path!r} points at objects, not ids")
        if value is not None:
            ids.append(str(value))
    return ids
