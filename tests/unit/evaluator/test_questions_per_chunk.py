"""Several questions per chunk: the writers' contract (distinct, new, in the chunk's language), the
prompt that asks for them inside the model's window, and how each question becomes a query."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from ragtasks_core.prompt_budget import chat_tokens, prompt_limit
from ragtasks_evaluator import logic, questions
from ragtasks_evaluator.questions import OFFLINE_QUESTION_GENERATOR as OFFLINE
from ragtasks_evaluator.questions import QuestionRequest
from ragtasks_gateway.models.evaluations import EvaluationRequest

EN = (
    "The bushfire near Hill Top forced hundreds of residents from their homes on Tuesday. Firefighters "
    "said the blaze was contained by evening; the council opened the town hall as an evacuation centre "
    "and the weather bureau warned of strong winds returning on Friday."
)
ZH = "青禾 Buds Air 3 耳机支持七天无理由退货，退货时需要保留原包装和发票，运费由买家承担；换货须在十五天内申请。"


class Chat:
    """A stand-in for ``limited_chat``: answers each call with the next scripted JSON, records prompts."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.prompts: list[list[dict[str, str]]] = []
        self.kwargs: list[dict[str, Any]] = []

    def __call__(self, prompt: list[dict[str, str]], max_tokens: int, **kwargs: Any) -> Any:
        self.prompts.append(prompt)
        self.kwargs.append(kwargs)
        return SimpleNamespace(text=json.dumps(self.answers.pop(0), ensure_ascii=False))


def test_offline_questions_are_distinct_new_and_start_with_the_single_question() -> None:
    three = questions.offline_questions(EN, 3)
    assert three[0] == questions.offline_question(EN)  # one per chunk stays what it was
    assert len({questions.question_key(q) for q in three}) == 3, three
    assert questions.offline_questions(EN, 3) == three  # deterministic
    more = questions.offline_questions(EN, 2, asked=three)
    assert not {questions.question_key(q) for q in more} & {questions.question_key(q) for q in three}, more
    zh = questions.offline_questions(ZH, 3)
    assert len(set(zh)) == 3 and all(q.startswith("请问") and q.endswith("？") for q in zh), zh
    # Too few key terms for three different questions: the last one repeats (still a fair query).
    assert len(questions.offline_questions("退货政策", 3)) == 3


def test_offline_writer_answers_each_request_with_its_count() -> None:
    written = questions.offline_writer([QuestionRequest(EN, 2), QuestionRequest(ZH, 1)])
    assert [len(w) for w in written] == [2, 1]
    assert {source for w in written for _, source in w} == {OFFLINE}


def test_llm_writer_keeps_distinct_new_questions_and_fills_the_rest_offline() -> None:
    chat = Chat(
        {
            "questions": [
                # A repeat (case and punctuation aside) and an already-asked one are not new.
                {"id": "1", "questions": ["Why did residents leave?", "why did residents LEAVE", "Old one?", "When?"]},
                # A Chinese passage answered in English is not what its users would ask.
                {"id": "2", "questions": ["What is the return policy?", "退货运费由谁承担？"]},
            ]
        }
    )
    write = questions.llm_writer(chat, model="m", max_tokens=256)
    en, zh = write([QuestionRequest(EN, 3, asked=("Old one?",)), QuestionRequest(ZH, 2)])
    assert chat.kwargs == [{"json_mode": True, "temperature": 0}]
    assert en[:2] == [("Why did residents leave?", "llm:m"), ("When?", "llm:m")]
    assert en[2][1] == OFFLINE and len(en) == 3  # the LLM wrote two new ones of three
    assert zh[0] == ("退货运费由谁承担？", "llm:m") and zh[1][1] == OFFLINE and zh[1][0].startswith("请问")
    # The writer's own come first: the store keeps exactly that prefix.
    assert [s for _, s in en] == ["llm:m", "llm:m", OFFLINE]


def test_prompt_asks_for_n_distinct_questions_in_the_passages_language_and_lists_the_asked_ones() -> None:
    prompt = questions.build_question_prompt([QuestionRequest(ZH, 3, asked=("退货要运费吗？",)), QuestionRequest(EN)])
    system, body = prompt[0]["content"], prompt[1]["content"]
    assert "Chinese passage gets questions in Chinese" in system and "different" in system and "JSON" in system
    assert f"Passage 1 (3 different questions):\n{ZH}" in body
    assert "Already asked about passage 1 (write other questions):\n- 退货要运费吗？" in body
    assert f"Passage 2:\n{EN}" in body  # one question, nothing asked: the plain label


def test_prompt_with_asked_questions_stays_inside_the_window() -> None:
    passage = "退款申请提交后，我们会在三个工作日内审核，审核通过后原路退回您的支付账户。" * 110
    asked = tuple(f"第{i}个问题：退款多久到账，审核需要几个工作日？" for i in range(9))
    limit = prompt_limit(4000, 512)
    prompt = questions.build_question_prompt([QuestionRequest(passage, 1, asked)] * 5, prompt_tokens=limit)
    assert chat_tokens(prompt) <= limit
    body = prompt[1]["content"]
    assert body.count("Already asked") == 5 and asked[8] in body and "此处省略" in body


def test_parse_questions_reads_lists_and_repeated_ids() -> None:
    answer = {"questions": [{"id": "1", "questions": ["a?", " ", "b?"]}, {"id": "2", "question": "c?"}]}
    answer["questions"].append({"id": "2", "question": "d?"})
    assert questions.parse_questions(json.dumps(answer), 2) == {0: ["a?", "b?"], 1: ["c?", "d?"]}
    assert questions.parse_questions('{"questions": [{"id": "x", "questions": ["a?"]}]}', 1) == {}


def test_each_question_is_a_query_of_its_own() -> None:
    keys = logic.query_keys(["a", "b"], 2)
    assert keys == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    rows = {("a", 0): {"retrieved": ["a"]}, ("a", 1): {"retrieved": ["x", "a"]}, ("b", 0): {"retrieved": []}}
    got = logic.score_queries(keys, rows, [1, 2])  # ("b", 1) has no row: a miss, not dropped
    assert got["hit_rate@1"] == 0.25 and got["hit_rate@2"] == 0.5 and got["mrr@2"] == pytest.approx(0.375)
    assert logic.row_query({"chunk_id": "a"}) == ("a", 0) and logic.row_query({"chunk_id": "a", "question_index": 2})
    assert logic.score_rows(["a"], {"a": {"retrieved": ["a"]}}, [1]) == logic.score_queries(
        [("a", 0)], {("a", 0): {"retrieved": ["a"]}}, [1]
    )


def test_the_request_takes_one_to_ten_questions_per_chunk_for_generated_questions_only() -> None:
    body = {"kb_id": "kb", "sample_size": 5}
    assert EvaluationRequest(**body).questions_per_chunk == 1
    assert EvaluationRequest(**body, questions_per_chunk=10).questions_per_chunk == 10
    for bad in (0, 11):
        with pytest.raises(ValidationError):
            EvaluationRequest(**body, questions_per_chunk=bad)
    with pytest.raises(ValidationError, match="labelled"):
        EvaluationRequest(**body, questions="labelled", questions_per_chunk=2)
