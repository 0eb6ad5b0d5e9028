"""Pure evaluation logic: sampling, scoring, comparing, questions, retriever answers."""

from __future__ import annotations

import pytest

from ragtasks_evaluator import logic


def test_sample_is_reproducible_and_order_independent() -> None:
    ids = [f"c{i}" for i in range(100)]
    a = logic.sample_ids(ids, 10, seed=3)
    assert a == logic.sample_ids(list(reversed(ids)), 10, seed=3)
    assert a != logic.sample_ids(ids, 10, seed=4)
    assert len(set(a)) == 10 and logic.sample_ids(ids[:4], 10, seed=3) == logic.sample_ids(ids[:4], 4, seed=3)
    assert logic.batch_bounds(25, 10) == [(0, 10), (10, 20), (20, 25)] and logic.batch_bounds(0, 10) == []


def test_scoring_counts_every_row_and_empty_retrieval_is_a_miss() -> None:
    assert logic.rank_of(["a"], []) is None
    assert logic.rank_of(["a", "merged-into-a"], ["x", "merged-into-a"]) == 2
    ranks = [1, 3, None, None]  # two misses, one of them an empty retrieval
    got = logic.score(ranks, [5, 1])
    assert got == {"hit_rate@1": 0.25, "mrr@1": 0.25, "hit_rate@5": 0.5, "mrr@5": pytest.approx((1 + 1 / 3) / 4)}
    assert logic.score([], [1]) == {"hit_rate@1": 0.0, "mrr@1": 0.0}


def test_compare_flags_drops_at_or_beyond_threshold_only() -> None:
    prev = {"hit_rate@1": 0.8, "hit_rate@10": 0.95, "mrr@10": 0.9}
    cur = {"hit_rate@1": 0.75, "hit_rate@10": 0.6, "mrr@10": 0.1}
    [drop] = logic.compare(prev, cur, 0.1)
    assert (drop.metric, drop.delta) == ("hit_rate@10", -0.35)
    assert logic.compare(prev, {"hit_rate@1": 0.7}, 0.1)[0].metric == "hit_rate@1"


def test_offline_question_is_deterministic_and_from_the_text() -> None:
    text = "Hello. The bushfire near Hill Top forced hundreds of residents from their homes on Tuesday."
    q = logic.offline_question(text)
    assert q == logic.offline_question(text) and q.endswith("?")
    assert "bushfire" in q and "Hill" in q and " the " not in q.lower().replace("the text", "")


def test_parse_questions_is_lenient_and_never_raises() -> None:
    items = '[{"id": "2", "question": "B?"}, {"id": "1", "question": "A?"}, {"id": 9, "question": "x"}]'
    answer = '```json\n{"questions": ' + items + "}\n```"
    assert logic.parse_questions(answer, 2) == {0: "A?", 1: "B?"}
    assert logic.parse_questions('["one?", "", "three?"]', 3) == {0: "one?", 2: "three?"}
    assert logic.parse_questions("not json", 2) == {} and logic.parse_questions('{"questions": 3}', 2) == {}
    prompt = logic.build_question_prompt(["first", "second"])
    assert "Passage 2:\nsecond" in prompt[-1]["content"] and "JSON" in prompt[0]["content"]


def test_extract_ids_follows_dotted_paths() -> None:
    doc = {"results": [{"chunk_id": "a"}, {"chunk_id": 7}], "ids": ["x"], "data": {"hits": {"ids": []}}}
    assert logic.extract_ids(doc, "results.*.chunk_id") == ["a", "7"]
    assert logic.extract_ids(doc, "ids") == ["x"]
    assert logic.extract_ids(doc, "data.hits.ids") == []
    assert logic.extract_ids({"results": []}, "results.*.chunk_id") == []
    with pytest.raises(logic.IdsFieldError):
        logic.extract_ids(doc, "nothing.here")
    with pytest.raises(logic.IdsFieldError):
        logic.extract_ids(doc, "results")


def test_retrieval_depth_is_the_setting_but_never_below_the_largest_k() -> None:
    assert logic.retrieval_depth(25, [1, 5, 10]) == 25
    assert logic.retrieval_depth(3, [1, 5, 10]) == 10


def test_nightly_plan_maintains_every_kb_and_evaluates_the_wanted_ones() -> None:
    from ragtasks_evaluator.service import nightly_plan

    plan = nightly_plan(["b", "a", "c"], ["c", "a", "ghost"], "20240110")
    assert plan == {"a": "nightly-20240110-a", "b": None, "c": "nightly-20240110-c"}


def test_settings_explain_a_misconfigured_retriever_and_cap_the_batch_budget() -> None:
    from ragtasks_core.settings import Settings

    assert Settings(retriever="http").retriever_problem() is not None
    assert "RAGTASKS_RETRIEVER_URL" in str(Settings(retriever="http").retriever_problem())
    assert Settings(retriever="http", retriever_url="http://rag/retrieve").retriever_problem() is None
    assert Settings(retriever="bm25").retriever_problem() is None
    capped = Settings(eval_batch_time_budget_seconds=900, task_soft_time_limit_seconds=600, task_time_limit_seconds=660)
    assert capped.effective_eval_batch_time_budget_seconds == 300
    assert Settings(eval_batch_time_budget_seconds=2).effective_eval_batch_time_budget_seconds == 2
