"""Pure evaluation logic: sampling, scoring, comparing, questions, retriever answers."""

from __future__ import annotations

import pytest

from ragtasks_evaluator import logic, questions
from ragtasks_evaluator.nightly import nightly_plan


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


def test_report_metrics_from_rows_agree_with_ranks_and_carry_every_metric() -> None:
    rows = {
        "a": {"retrieved": ["a", "x"], "rank": 1},
        "b": {"retrieved": ["x", "y", "keeper"], "aliases": [["keeper", "b"]], "rank": 3},
        "c": {"retrieved": [], "rank": None, "error": "HTTP 500"},
        "g": {"retrieved": ["g2", "x", "g1"], "relevant": [["g1", 1], ["g2", 2]], "rank": 1},
    }
    got = logic.score_rows(["a", "b", "c", "d", "g"], rows, [1, 5])
    assert set(got) == {f"{m}@{k}" for m in ("hit_rate", "recall", "precision", "mrr", "ndcg", "map") for k in (1, 5)}
    ranks = [1, 3, None, None, 1]  # "d" has no row: a miss
    assert {k: v for k, v in got.items() if k.split("@")[0] in ("hit_rate", "mrr")} == logic.score(ranks, [1, 5])
    assert got["recall@1"] == pytest.approx(round((1 + 0.5) / 5, 6))  # "g" finds 1 of its 2 at rank 1
    assert got["precision@5"] == pytest.approx(round((0.2 + 0.2 + 0.4) / 5, 6))


def test_compare_flags_drops_at_or_beyond_threshold_only() -> None:
    prev = {"hit_rate@1": 0.8, "hit_rate@10": 0.95, "mrr@10": 0.9}
    cur = {"hit_rate@1": 0.75, "hit_rate@10": 0.6, "mrr@10": 0.1}
    [drop] = logic.compare(prev, cur, 0.1)
    assert (drop.metric, drop.delta) == ("hit_rate@10", -0.35)
    assert logic.compare(prev, {"hit_rate@1": 0.7}, 0.1)[0].metric == "hit_rate@1"


def test_offline_question_is_deterministic_from_the_text_and_in_its_language() -> None:
    text = (
        "Hello. The bushfire near Hill Top forced hundreds of residents from their homes on Tuesday. "
        "Firefighters said the bushfire was contained by evening, and residents of Hill Top returned."
    )
    q = questions.offline_question(text)
    assert q == questions.offline_question(text) and q.startswith("What does the text say about ")
    assert "bushfire" in q and "Hill" in q and " the " not in q.lower().replace("the text", "")
    assert 2 * len(q) < len(text)
    zh = "青禾 Buds Air 3 耳机支持七天无理由退货，退货时需要保留原包装和发票，运费由买家承担。"
    q = questions.offline_question(zh)
    assert q.startswith("请问") and q.endswith("？") and "What" not in q and 2 * len(q) < len(zh), q
    tiny = questions.offline_question("退货政策")  # too short for a question: its first term, cut
    assert len(tiny) == 1 and tiny in "退货政策"
    # An LLM is asked for each passage's own language.
    assert "Chinese" in questions.QUESTION_SYSTEM_PROMPT and "language" in questions.QUESTION_SYSTEM_PROMPT


def test_parse_questions_is_lenient_and_never_raises() -> None:
    items = '[{"id": "2", "question": "B?"}, {"id": "1", "question": "A?"}, {"id": 9, "question": "x"}]'
    answer = '```json\n{"questions": ' + items + "}\n```"
    assert questions.parse_questions(answer, 2) == {0: ["A?"], 1: ["B?"]}
    assert questions.parse_questions('["one?", "", "three?"]', 3) == {0: ["one?"], 2: ["three?"]}
    assert questions.parse_questions("not json", 2) == {} and questions.parse_questions('{"questions": 3}', 2) == {}
    prompt = questions.build_question_prompt(["first", "second"])
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


def test_drift_against_previous_baseline_and_floor_says_which() -> None:
    current = {"hit_rate@1": 0.55, "hit_rate@10": 0.8, "mrr@10": 0.6}
    drops = logic.drift(
        current,
        previous={"hit_rate@1": 0.6, "hit_rate@10": 0.85},  # -0.05 a night: never past the threshold
        baseline={"hit_rate@1": 0.75, "hit_rate@10": 0.95},  # but -0.2 / -0.15 since the baseline
        threshold=0.1,
        floor=0.6,
    )
    assert [(d.metric, d.against, d.delta) for d in drops] == [
        ("hit_rate@1", "baseline", -0.2),
        ("hit_rate@10", "baseline", -0.15),
        ("hit_rate@1", "floor", -0.05),
    ]
    assert logic.drift(current, previous=None, baseline=None, threshold=0.1, floor=0.0) == []
    # The baseline pinned on the very report that came before: each drop once, against the baseline.
    both = {"hit_rate@1": 0.75, "hit_rate@10": 0.95}
    once = logic.drift(current, previous=both, baseline=both, threshold=0.1, floor=0.0, baseline_is_previous=True)
    assert [(d.metric, d.against) for d in once] == [("hit_rate@1", "baseline"), ("hit_rate@10", "baseline")]
    assert drops[2].as_dict() == {
        "metric": "hit_rate@1",
        "previous": 0.6,
        "current": 0.55,
        "delta": -0.05,
        "against": "floor",
    }


def test_comparison_key_covers_retriever_questions_sample_and_k() -> None:
    base = {
        "retriever_config": {"kind": "bm25", "top_k": 10},
        "question_generator": "llm:m",
        "questions_per_chunk": 1,
        "seed": 42,
        "sample_size": 100,
        "k": [1, 5, 10],
    }
    key = logic.comparison_key(base)
    assert key == logic.comparison_key({**base, "_id": "other", "status": "done"})
    for field, value in [("seed", 7), ("sample_size", 50), ("k", [1, 5]), ("question_generator", "offline")]:
        assert logic.comparison_key({**base, field: value}) != key
    assert logic.comparison_key({**base, "retriever_config": {"kind": "http", "top_k": 10, "url": "u"}}) != key


def test_the_question_prompt_stays_inside_the_models_window() -> None:
    # Five long Chinese passages (~4,000 characters, about as many tokens each) against a small
    # window: every passage is shortened to an equal share, the prompt fits with room for the reply.
    from ragtasks_core.prompt_budget import chat_tokens, prompt_limit

    passage = "退款申请提交后，我们会在三个工作日内审核，审核通过后原路退回您的支付账户。" * 110
    limit = prompt_limit(4000, 512)
    prompt = questions.build_question_prompt([passage] * 5, prompt_tokens=limit)
    assert chat_tokens(prompt) <= limit
    body = prompt[1]["content"]
    assert body.count("Passage ") == 5 and "此处省略" in body  # shortened, and says so in Chinese
    # Without a budget nothing is shortened (short passages are sent whole either way).
    assert questions.build_question_prompt(["短文本"], prompt_tokens=limit) == questions.build_question_prompt(
        ["短文本"]
    )
