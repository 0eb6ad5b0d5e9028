"""Question sets that stay put: written once per (chunk text, writer, model) at temperature 0,
stored and reused; a changed chunk gets a new question (real worker, fake OpenAI server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.settings import Settings
from ragtasks_evaluator import question_store
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI, Reply


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _answer(*questions: str) -> Reply:
    items = [{"id": str(i), "question": q} for i, q in enumerate(questions, start=1)]
    return Reply(text=json.dumps({"questions": items}))


def _questions(db: Any, evaluation_id: str) -> dict[str, str]:
    return {r["chunk_id"]: r["question"] for r in db["evaluation_rows"].find({"evaluation_id": evaluation_id})}


def test_questions_are_written_once_reused_and_rewritten_only_for_changed_text(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI, db: Any
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_EVAL_QUESTIONS_PER_LLM_CALL": "4",
        "RAGTASKS_EVAL_BATCH_SIZE": "4",
    }
    chunks = [dict(c) for c in LEE[:4]]
    fake_llm.push(_answer("Q a?", "Q b?", "Q c?", "Q d?"))
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "stay", chunks)

    first = wait_evaluation(api, start_evaluation(api, "stay", 4, seed=3, k=[1, 5]))
    assert first["status"] == "done", first
    [request] = fake_llm.chat_requests()
    assert request.body["temperature"] == 0  # as repeatable as the model allows
    asked = _questions(db, first["evaluation_id"])
    assert sorted(asked.values()) == ["Q a?", "Q b?", "Q c?", "Q d?"]
    assert db[question_store.COLLECTION].count_documents({"generator": "llm:fake-model"}) == 4
    assert first["question_set"]["stored"] == 4 and first["question_set"]["generator"] == "llm:fake-model"
    assert first["seed"] == 3 and first["sample_size"] == 4 and first["k"] == [1, 5]
    assert first["retriever_config"] == {"kind": "bm25", "top_k": 10}

    # The next run asks the LLM nothing: the same questions, so the same fingerprint and a comparison.
    second = wait_evaluation(api, start_evaluation(api, "stay", 4, seed=3, k=[1, 5]))
    assert len(fake_llm.chat_requests()) == 1
    assert _questions(db, second["evaluation_id"]) == asked
    assert second["question_set"]["fingerprint"] == first["question_set"]["fingerprint"]
    assert second["comparison"]["previous_evaluation_id"] == first["evaluation_id"]

    # One chunk's text changes: only it gets a new question (one passage in one call).
    changed = chunks[1]["chunk_id"]
    edit = {"chunks": [{**chunks[1], "text": chunks[1]["text"] + " The council met again on Friday."}]}
    assert api.post("/v1/kbs/stay/chunks", json=edit, headers=auth()).json()["updated"] == 1
    fake_llm.push(_answer("Q b, changed?"))
    third = wait_evaluation(api, start_evaluation(api, "stay", 4, seed=3, k=[1, 5]))
    requests = fake_llm.chat_requests()
    assert len(requests) == 2 and "Passage 2:" not in requests[1].body["messages"][-1]["content"]
    now = _questions(db, third["evaluation_id"])
    assert now[changed] == "Q b, changed?"
    assert {c: q for c, q in now.items() if c != changed} == {c: q for c, q in asked.items() if c != changed}
    assert third["question_set"]["fingerprint"] != first["question_set"]["fingerprint"]

    # Another seed or k is another comparison: an ad-hoc run is not compared with the nightly kind.
    other = wait_evaluation(api, start_evaluation(api, "stay", 4, seed=3, k=[1, 10]))
    assert other["comparison"]["previous_evaluation_id"] is None
