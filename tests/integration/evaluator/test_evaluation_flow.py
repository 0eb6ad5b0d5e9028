"""Recall evaluation end to end: gateway API -> real evaluator worker -> report in Mongo.

The corpus is the Lee news corpus shipped inside gensim (686 chunks of 300 stories).
"""

from __future__ import annotations

import json
import random
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_evaluator import logic, questions
from ragtasks_evaluator.retrievers import Bm25Retriever
from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import metric_value, metrics_text, start_together, wait_until


def test_bm25_recall_on_lee_is_sensible_stable_and_rerun_is_harmless(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, celery_client: Any
) -> None:
    env = {**worker_env, "RAGTASKS_RETRIEVER": "bm25", "RAGTASKS_EVAL_BATCH_SIZE": "10"}
    worker = start_worker("evaluator", env, concurrency=2)
    load_kb(api, "lee", LEE)
    kb = api.get("/v1/kbs/lee", headers=auth()).json()
    assert kb["chunks"] == kb["active_chunks"] == len(LEE) and kb["documents"] == 300

    first = wait_evaluation(api, start_evaluation(api, "lee", 40, seed=7))
    assert first["status"] == "done", first
    assert first["question_generator"].startswith("offline-")
    assert first["progress"] == {"done": 40, "total": 40, "batches_done": 4, "batches": 4, "fraction": 1.0}
    metrics = first["metrics"]
    names = ("hit_rate", "recall", "precision", "mrr", "ndcg", "map")
    assert set(metrics) == {f"{m}@{k}" for m in names for k in (1, 5, 10)}
    # One relevant chunk per generated question: recall is the hit rate, precision@k is hit rate / k.
    assert metrics["recall@5"] == metrics["hit_rate@5"] and metrics["precision@1"] == metrics["hit_rate@1"]
    assert metrics["mrr@10"] <= metrics["ndcg@10"] <= metrics["hit_rate@10"]
    assert metrics["hit_rate@10"] >= 0.95, metrics  # measured: 1.0 on this sample
    assert metrics["hit_rate@1"] <= metrics["hit_rate@5"] <= metrics["hit_rate@10"]
    assert len(first["details"]) == 40
    assert all(d["question"] and (d["rank"] is None or 1 <= d["rank"] <= 10) for d in first["details"])
    assert first["timings"]["total_seconds"] > 0

    # The same seed samples the same chunks: the same report, compared with the first, no alert.
    second = wait_evaluation(api, start_evaluation(api, "lee", 40, seed=7))
    assert second["metrics"] == metrics
    assert second["comparison"]["previous_evaluation_id"] == first["evaluation_id"]
    assert second["comparison"]["drops"] == [] and second["alert"]["fired"] is False

    # Re-running a finished evaluation changes nothing.
    again = celery_client.send_task(TaskName.RUN_EVALUATION.value, kwargs={"evaluation_id": first["evaluation_id"]})
    assert again.get(timeout=30)["metrics"] == metrics
    final = celery_client.send_task(
        TaskName.FINALIZE_EVALUATION.value, kwargs={"evaluation_id": first["evaluation_id"]}
    )
    assert final.get(timeout=30)["metrics"] == metrics
    assert api.get(f"/v1/evaluations/{first['evaluation_id']}", headers=auth()).json()["progress"]["done"] == 40

    history = api.get("/v1/evaluations", params={"kb_id": "lee"}, headers=auth()).json()["evaluations"]
    assert [h["evaluation_id"] for h in history] == [second["evaluation_id"], first["evaluation_id"]]
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_eval_hit_rate", {"kb": "lee", "k": "10"}) == metrics["hit_rate@10"]
    assert metric_value(text, "ragtasks_eval_mrr", {"kb": "lee", "k": "1"}) == metrics["mrr@1"]
    assert metric_value(text, "ragtasks_eval_ndcg", {"kb": "lee", "k": "5"}) == metrics["ndcg@5"]


def test_recall_drop_when_a_third_of_the_index_is_deleted_raises_the_alert(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever, wecom: FakeWeCom
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_RETRIEVER": "http",
        "RAGTASKS_RETRIEVER_URL": fake_retriever.url,
        "RAGTASKS_RETRIEVER_AUTH_HEADER": "Bearer secret-token",
        "RAGTASKS_RETRIEVER_IDS_FIELD": "results.*.chunk_id",
        "RAGTASKS_EVAL_BATCH_SIZE": "15",
        "RAGTASKS_EVAL_DROP_THRESHOLD": "0.15",
    }
    # The alerter runs from the start: the alert below reaches the robot through a real one.
    start_together(
        lambda: start_worker("evaluator", env, concurrency=2), lambda: start_worker("alerter", env, concurrency=1)
    )
    load_kb(api, "news", LEE)
    before = wait_evaluation(api, start_evaluation(api, "news", 45, seed=3))
    assert before["status"] == "done" and before["retriever"] == "http"
    assert before["metrics"]["hit_rate@10"] >= 0.8, before["metrics"]

    # Corrupt the RAG service's index: a third of the chunks vanish from it (Mongo keeps them).
    ids = sorted(c["chunk_id"] for c in LEE)
    fake_retriever.delete(set(random.Random(11).sample(ids, len(ids) // 3)))
    after = wait_evaluation(api, start_evaluation(api, "news", 45, seed=3))
    assert after["status"] == "done"
    drop = before["metrics"]["hit_rate@10"] - after["metrics"]["hit_rate@10"]
    assert 0.15 <= drop <= 0.55, (before["metrics"], after["metrics"])
    assert after["comparison"]["previous_evaluation_id"] == before["evaluation_id"]
    assert {d["metric"] for d in after["comparison"]["drops"]} >= {"hit_rate@10"}
    assert after["alert"] == {"fired": True, "published": True, "fingerprint": "recall-drop:news"}

    # Published by name in the alerter's contract, the alert reaches the robot through the real alerter.
    def recall_messages() -> list[Any]:
        return [m for m in wecom.messages() if "召回率" in m.content]

    wait_until(recall_messages, 30, 0.25, "the recall-drop message")
    [message] = recall_messages()
    # In RAGTASKS_ALERT_LANGUAGE (zh by default), saying what recall fell short of.
    assert "知识库 news 召回率下降" in message.content and "hit_rate@10" in message.content
    assert f"对比上一份可比报告 {before['evaluation_id']}" in message.content, message.content
    [alert] = api.get("/v1/alerts", headers=auth()).json()["alerts"]
    assert alert["fingerprint"] == "recall-drop:news" and alert["source"] == "evaluator"
    assert alert["status"] == "firing" and alert["labels"]["kb"] == "news"


def test_empty_answers_and_errors_are_misses_not_crashes_or_dropped_rows(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever
) -> None:
    env = {
        **worker_env,
        "RAGTASKS_RETRIEVER": "http",
        "RAGTASKS_RETRIEVER_URL": fake_retriever.url,
        "RAGTASKS_RETRIEVER_AUTH_HEADER": "Authorization: Bearer secret-token",
        "RAGTASKS_RETRIEVER_IDS_FIELD": "results.*.chunk_id",
        "RAGTASKS_RETRIEVER_MAX_ATTEMPTS": "2",
        "RAGTASKS_RETRIEVER_TOP_K": "25",  # deeper than the largest k (10): sent as top_k
    }
    subset = LEE[:60]
    fake_retriever.slow_seconds = 0.05
    sample = logic.sample_ids([c["chunk_id"] for c in subset], 12, 5)
    text = {c["chunk_id"]: c["text"] for c in subset}
    empty, failing = sample[:3], sample[3:5]
    fake_retriever.empty_for = {questions.offline_question(text[i]) for i in empty}
    fake_retriever.error_for = {questions.offline_question(text[i]) for i in failing}
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "small", subset)
    report = wait_evaluation(api, start_evaluation(api, "small", 12, seed=5))
    assert report["status"] == "done", report
    assert report["top_k"] == 25 and fake_retriever.top_ks and set(fake_retriever.top_ks) == {25}

    # Every row, exactly: what the fake's BM25 answers for the offline question (the same index).
    reference = Bm25Retriever(sorted(c["chunk_id"] for c in LEE), [c["text"] for c in sorted(LEE, key=_id)])
    expected = {}
    for i in sample:
        retrieved = [] if i in empty or i in failing else reference.search(questions.offline_question(text[i]), 25)
        expected[i] = (logic.rank_of([i], retrieved), retrieved[:10], i in failing)  # a row keeps max(k) ids
    rows = {d["chunk_id"]: d for d in report["details"]}
    assert sorted(rows) == sorted(sample)
    got = {i: (r["rank"], r["retrieved"], r["error"] is not None) for i, r in rows.items()}
    assert got == expected
    for i in failing:
        assert "HTTP 500" in rows[i]["error"] and "after 2 attempts" in rows[i]["error"]
    ranks = [rank for rank, _, _ in expected.values()]
    assert report["counts"]["retrieval_errors"] == 2
    assert report["counts"]["empty_retrievals"] == sum(1 for _, ids, _ in expected.values() if not ids)
    assert report["counts"]["misses"] == sum(1 for r in ranks if r is None) and report["counts"]["rows"] == 12
    scored = logic.score(ranks, [1, 5, 10])
    assert {key: report["metrics"][key] for key in scored} == scored
    assert report["metrics"] == logic.score_rows(sample, rows, [1, 5, 10])


def _id(chunk: dict[str, str]) -> str:
    return chunk["chunk_id"]


def test_llm_questions_batched_json_with_retry_and_labelled_fallback(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_llm: FakeOpenAI
) -> None:
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_LLM_BACKOFF_BASE_SECONDS": "1",
        "RAGTASKS_EVAL_QUESTIONS_PER_LLM_CALL": "3",
        "RAGTASKS_EVAL_BATCH_SIZE": "6",
    }
    three = json.dumps(
        {"questions": [{"id": str(i), "question": q} for i, q in enumerate(["Q one?", "Q two?", "Q three?"], 1)]}
    )
    two = '{"questions": [{"id": "1", "question": "Q four?"}, {"id": "2", "question": "Q five?"}]}'
    fake_llm.push(Reply(status=503, retry_after="1"), Reply(text=three), Reply(text=two))
    start_worker("evaluator", env, concurrency=1)
    load_kb(api, "llm", LEE[:30])
    report = wait_evaluation(api, start_evaluation(api, "llm", 6, seed=1))
    assert report["status"] == "done", report
    assert report["question_generator"] == "llm:fake-model"
    assert report["counts"]["question_sources"] == {"llm:fake-model": 5, questions.OFFLINE_QUESTION_GENERATOR: 1}
    written = sorted(d["question"] for d in report["details"] if d["question_source"] == "llm:fake-model")
    assert written == ["Q five?", "Q four?", "Q one?", "Q three?", "Q two?"]
    requests = fake_llm.chat_requests()
    assert len(requests) == 3  # the 503, then one call per 3 chunks
    assert requests[1].body["response_format"] == {"type": "json_object"}
    assert "Passage 3:" in requests[1].body["messages"][-1]["content"]
    assert requests[1].at - requests[0].at >= 0.9  # waited for the retry countdown
