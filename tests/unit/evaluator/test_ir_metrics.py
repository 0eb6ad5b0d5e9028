"""Every ranking metric checked against trec_eval (``pytrec_eval``) on the same runs, to 1e-9.

The runs are random but seeded: graded and binary judgements, judged-irrelevant ids (grade 0),
relevant ids never retrieved, runs shorter and longer than k, and empty relevance sets skipped by
trec_eval (it only scores queries with a relevant id), which we check apart.
"""

from __future__ import annotations

import random

import pytest
import pytrec_eval

from ragtasks_evaluator import ir_metrics

KS = (1, 3, 5, 10, 20)
# trec_eval's name of each metric at cut k; mrr@k is recip_rank of the run cut at k.
TREC = {
    "hit_rate": "success_{k}",
    "recall": "recall_{k}",
    "precision": "P_{k}",
    "ndcg": "ndcg_cut_{k}",
    "map": "map_cut_{k}",
}
MEASURES = {"success", "recall", "P", "ndcg_cut", "map_cut"}
CUTS = ",".join(str(k) for k in KS)


def _random_query(rng: random.Random, graded: bool) -> tuple[list[str], dict[str, int]]:
    pool = [f"c{i}" for i in range(60)]
    retrieved = rng.sample(pool, rng.randint(1, 30))
    relevant = rng.sample(pool, rng.randint(1, 8))
    qrels = {c: (rng.randint(1, 3) if graded else 1) for c in relevant}
    for c in rng.sample(pool, 4):  # judged, but not relevant
        qrels.setdefault(c, 0)
    return retrieved, qrels


def _trec(retrieved: list[str], qrels: dict[str, int], measures: set[str]) -> dict[str, float]:
    evaluator = pytrec_eval.RelevanceEvaluator({"q": qrels}, measures)
    # trec_eval ranks by score: strictly decreasing scores keep our order.
    run = {"q": {c: float(len(retrieved) - i) for i, c in enumerate(retrieved)}}
    return evaluator.evaluate(run)["q"]


@pytest.mark.parametrize("graded", [False, True])
def test_every_metric_matches_trec_eval(graded: bool) -> None:
    rng = random.Random(1303 + graded)
    compared = 0
    for _ in range(200):
        retrieved, qrels = _random_query(rng, graded)
        reference = _trec(retrieved, qrels, {f"{m}.{CUTS}" for m in MEASURES})
        ours = ir_metrics.query_metrics(retrieved, qrels, KS)
        for k in KS:
            for name, trec_name in TREC.items():
                assert ours[f"{name}@{k}"] == pytest.approx(reference[trec_name.format(k=k)], abs=1e-9), (name, k)
                compared += 1
            cut = _trec(retrieved[:k], qrels, {"recip_rank"})
            assert ours[f"mrr@{k}"] == pytest.approx(cut["recip_rank"], abs=1e-9)
            compared += 1
    assert compared == 200 * len(KS) * len(ir_metrics.METRIC_NAMES)


def test_mean_over_a_run_matches_trec_eval_means() -> None:
    rng = random.Random(7)
    queries = [_random_query(rng, graded=True) for _ in range(50)]
    ours = ir_metrics.mean_metrics(queries, KS)
    qrels = {f"q{i}": q for i, (_, q) in enumerate(queries)}
    run = {f"q{i}": {c: float(len(r) - j) for j, c in enumerate(r)} for i, (r, _) in enumerate(queries)}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {f"{m}.{CUTS}" for m in MEASURES}).evaluate(run)
    for k in KS:
        for name, trec_name in TREC.items():
            mean = sum(v[trec_name.format(k=k)] for v in per_query.values()) / len(per_query)
            assert ours[f"{name}@{k}"] == pytest.approx(mean, abs=1e-9)


def test_a_failed_or_empty_retrieval_counts_as_zero() -> None:
    ours = ir_metrics.mean_metrics([([], {"a": 1}), (["a"], {"a": 1})], [1, 5])
    assert ours["hit_rate@1"] == 0.5
    assert ours["mrr@5"] == 0.5
    assert ours["ndcg@5"] == 0.5
    assert ir_metrics.query_metrics(["a"], {}, [1]) == dict.fromkeys((f"{n}@1" for n in ir_metrics.METRIC_NAMES), 0.0)


def test_a_repeated_id_counts_once_and_aliases_map_to_the_sampled_chunk() -> None:
    assert ir_metrics.precision_at(["a", "a", "b"], {"a": 1}, 2) == 0.5
    assert ir_metrics.canonical_run(["keeper", "x", "c1"], {"keeper": "c1"}) == ["c1", "x"]
    assert ir_metrics.mean_metrics([], [5])["ndcg@5"] == 0.0
