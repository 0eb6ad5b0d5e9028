"""Several questions per chunk (``questions_per_chunk``): each its own query and row, written once per
chunk text and reused, only the missing ones written (real Mongo server; real worker + fake OpenAI)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.documents.chunks import content_hash
from ragtasks_core.settings import Settings
from ragtasks_evaluator import question_store, questions
from ragtasks_evaluator.nightly import create_nightly_evaluation
from ragtasks_evaluator.questions import QuestionRequest
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb, wait_evaluation
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI, Reply

GENERATOR = questions.OFFLINE_QUESTION_GENERATOR


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


class Recorder:
    """The offline writer, recording what it was asked (the writer the store calls when nothing is stored)."""

    def __init__(self) -> None:
        self.asked: list[list[QuestionRequest]] = []

    def __call__(self, requests: list[QuestionRequest]) -> list[list[tuple[str, str]]]:
        self.asked.append(requests)
        return questions.offline_writer(requests)


def _chunk(i: int, text: str | None = None) -> dict[str, Any]:
    body = text or LEE[i]["text"]
    return {"chunk_id": f"c{i}", "text": body, "hash": content_hash(body)}


def test_the_store_writes_only_missing_questions_and_reuses_the_rest(db: Any) -> None:
    chunks = [_chunk(0), _chunk(1), {**_chunk(0), "chunk_id": "same-text"}]
    writer = Recorder()
    first = question_store.questions_for(db, writer, GENERATOR, chunks, 3)
    # One request per text (the same text in two chunks is written for once), three questions each.
    assert [(r.count, r.asked) for r in writer.asked[0]] == [(3, ()), (3, ())]
    assert first[0] == first[2] and len({q for q, _, _ in first[0]}) == 3
    assert [i for _, _, i in first[1]] == [
        question_store.question_id(chunks[1]["hash"], GENERATOR, n) for n in range(3)
    ]

    assert question_store.questions_for(db, writer, GENERATOR, chunks, 3) == first  # reused: no call
    assert question_store.questions_for(db, writer, GENERATOR, chunks[:1], 2) == [first[0][:2]]  # fewer: the first
    assert len(writer.asked) == 1

    more = question_store.questions_for(db, writer, GENERATOR, chunks[:2], 5)
    # More: only the two missing per text are written, shown the three it has so as not to repeat them.
    assert [(r.count, r.asked) for r in writer.asked[1]] == [(2, tuple(q for q, _, _ in f)) for f in first[:2]]
    assert [m[:3] for m in more] == first[:2] and all(len({q for q, _, _ in m}) == 5 for m in more)
    stored = db[question_store.COLLECTION].find_one({"_id": question_store.set_id(chunks[0]["hash"], GENERATOR)})
    assert stored["questions"] == [q for q, _, _ in more[0]]

    # A changed chunk (new hash) gets questions of its own; the old text keeps its set.
    changed = _chunk(1, LEE[1]["text"] + " The council met again on Friday.")
    [fresh] = question_store.questions_for(db, writer, GENERATOR, [changed], 3)
    assert writer.asked[2] == [QuestionRequest(changed["text"], 3, ())] and fresh[0][2] != first[1][0][2]


def test_a_racing_writer_never_overwrites_a_stored_list(db: Any) -> None:
    h = content_hash("racing text")
    assert question_store.append(db, GENERATOR, {h: (0, ["a?", "b?"])}) == {h: ["a?", "b?"]}
    # Both saw two questions; the first to append wins, the second's are not stored.
    assert question_store.append(db, GENERATOR, {h: (2, ["c?"])}) == {h: ["a?", "b?", "c?"]}
    assert question_store.append(db, GENERATOR, {h: (2, ["x?"])}) == {h: ["a?", "b?", "c?"]}
    assert question_store.append(db, GENERATOR, {h: (0, ["y?"])}) == {h: ["a?", "b?", "c?"]}


def test_nightly_evaluations_take_questions_per_chunk_from_the_settings(db: Any) -> None:
    settings = Settings(eval_questions_per_chunk=4, mongodb_url="mongodb://unused")
    assert create_nightly_evaluation(db, "kb-n", "nightly-20260101-kb-n", settings=settings)
    assert db.evaluations.find_one({"_id": "nightly-20260101-kb-n"})["questions_per_chunk"] == 4


def _answer(*passages: list[str]) -> Reply:
    items = [{"id": str(i), "questions": qs} for i, qs in enumerate(passages, start=1)]
    return Reply(text=json.dumps({"questions": items}))


def _evaluate(api: TestClient, per_chunk: int) -> dict[str, Any]:
    body = {"kb_id": "multi", "sample_size": 4, "k": [1, 5], "seed": 5, "questions_per_chunk": per_chunk}
    r = api.post("/v1/evaluations", json=body, headers=auth())
    assert r.status_code == 202, r.text
    return wait_evaluation(api, r.json()["evaluation_id"])


def _by_chunk(report: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for row in report["details"]:  # read page by page through GET /v1/evaluations/{id}/rows
        found[row["chunk_id"]].append(row["question"])
    return {c: sorted(qs) for c, qs in found.items()}


def test_three_questions_per_chunk_on_a_real_worker(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI, db: Any
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_EVAL_QUESTIONS_PER_LLM_CALL": "6",  # two chunks of three questions per call
        "RAGTASKS_EVAL_BATCH_SIZE": "4",
    }
    chunks = [dict(c) for c in LEE[:4]]
    fake_llm.push(
        _answer(["A1?", "A2?", "A3?"], ["B1?", "B2?", "B3?"]), _answer(["C1?", "C2?", "C3?"], ["D1?", "D2?", "D3?"])
    )
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "multi", chunks)

    first = _evaluate(api, 3)
    assert first["status"] == "done", first
    requests = fake_llm.chat_requests()
    assert len(requests) == 2 and all(r.body["temperature"] == 0 for r in requests)
    assert "Passage 2 (3 different questions):" in requests[0].body["messages"][-1]["content"]
    asked = _by_chunk(first)
    assert len(asked) == 4 and all(len(qs) == 3 for qs in asked.values()), asked  # 3 rows per chunk
    assert len({q for qs in asked.values() for q in qs}) == 12  # all distinct
    indexes = Counter(r["question_index"] for r in db.evaluation_rows.find({"evaluation_id": first["evaluation_id"]}))
    assert indexes == {0: 4, 1: 4, 2: 4}
    assert first["questions_per_chunk"] == 3 and first["question_set"]["questions_per_chunk"] == 3
    assert first["question_set"]["stored"] == 12 and first["counts"]["total"] == 12
    assert first["progress"]["total"] == 12 and first["progress"]["fraction"] == 1.0
    # Pages of 5 over 12 rows: each row once, in (chunk, question) order.
    paged = [
        (row["chunk_id"], row["question_index"])
        for offset in (0, 5, 10)
        for row in api.get(
            f"/v1/evaluations/{first['evaluation_id']}/rows", params={"offset": offset, "limit": 5}, headers=auth()
        ).json()["rows"]
    ]
    assert paged == sorted((c, i) for c in asked for i in range(3))
    export = api.get(f"/v1/evaluations/{first['evaluation_id']}/rows.csv", headers=auth())
    header, *lines = csv.reader(io.StringIO(export.text.lstrip("\ufeff")))
    column = header.index("question_index")  # the ninth column: later ones are added after it
    assert column == 8 and len(lines) == 12
    assert [(line[0], int(line[column])) for line in lines] == paged

    # Reused: the same questions, no LLM call, compared with the first (same questions_per_chunk).
    second = _evaluate(api, 3)
    assert len(fake_llm.chat_requests()) == 2
    assert _by_chunk(second) == asked
    assert second["question_set"]["fingerprint"] == first["question_set"]["fingerprint"]
    assert second["comparison"]["previous_evaluation_id"] == first["evaluation_id"]

    # One question per chunk is another comparison; it asks each chunk's first stored question.
    single = _evaluate(api, 1)
    assert len(fake_llm.chat_requests()) == 2 and single["comparison"]["previous_evaluation_id"] is None
    assert all(len(qs) == 1 and qs[0].endswith("1?") for qs in _by_chunk(single).values()), _by_chunk(single)

    # A changed chunk gets three new questions (one passage in one call); the others keep theirs.
    changed = chunks[2]["chunk_id"]
    edit = {"chunks": [{**chunks[2], "text": chunks[2]["text"] + " The council met again on Friday."}]}
    assert api.post("/v1/kbs/multi/chunks", json=edit, headers=auth()).json()["updated"] == 1
    fake_llm.push(_answer(["E1?", "E2?", "E3?"]))
    third = _evaluate(api, 3)
    requests = fake_llm.chat_requests()
    assert len(requests) == 3 and "Passage 2" not in requests[2].body["messages"][-1]["content"]
    now = _by_chunk(third)
    assert now[changed] == ["E1?", "E2?", "E3?"]
    assert {c: q for c, q in now.items() if c != changed} == {c: q for c, q in asked.items() if c != changed}
