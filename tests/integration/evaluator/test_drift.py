"""Drift: a slow decline that never drops by the threshold in one step still alerts, against the
pinned baseline (``POST /v1/evaluations/{id}/baseline``) or below the absolute floor
(``RAGTASKS_EVAL_MIN_HIT_RATE``); the alert says which (real worker, fake RAG service)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import Queue, TaskName
from ragtasks_evaluator import logic
from tests.integration.evaluator.fake_retriever import FakeRetriever
from tests.integration.evaluator.helpers import LEE, drain_tasks, load_kb, start_evaluation, wait_evaluation
from tests.integration.helpers import auth

SAMPLE, SEED = 40, 9


@pytest.fixture
def retriever_chunks() -> list[dict[str, str]]:
    return LEE[:120]


def test_slow_drift_alerts_against_the_baseline_and_the_floor(
    worker_env: dict[str, str], start_worker: Any, api: TestClient, fake_retriever: FakeRetriever
) -> None:
    env = {
        **worker_env,
        **fake_retriever.env(),
        "RAGTASKS_EVAL_DROP_THRESHOLD": "0.15",
        "RAGTASKS_EVAL_MIN_HIT_RATE": "0.85",
        "RAGTASKS_ALERT_LANGUAGE": "en",  # the words asserted below (the default is zh)
    }
    start_worker("evaluator", env, concurrency=2)
    load_kb(api, "drift", LEE[:120])
    sample = logic.sample_ids([c["chunk_id"] for c in LEE[:120]], SAMPLE, SEED)

    def evaluate() -> dict[str, Any]:
        report = wait_evaluation(api, start_evaluation(api, "drift", SAMPLE, seed=SEED, k=[10]), rows=False)
        assert report["status"] == "done", report
        return report

    base = evaluate()
    assert base["metrics"]["hit_rate@10"] >= 0.95, base["metrics"]
    assert api.post("/v1/evaluations/ev-none/baseline", headers=auth()).status_code == 404
    pinned = api.post(f"/v1/evaluations/{base['evaluation_id']}/baseline", headers=auth())
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["baseline"]["evaluation_id"] == base["evaluation_id"]
    assert api.get("/v1/kbs/drift", headers=auth()).json()["baseline"]["evaluation_id"] == base["evaluation_id"]

    # Night 2: the RAG service loses 4 of the 40 sampled chunks (-0.1): under the threshold, above the floor.
    fake_retriever.delete(set(sample[:4]))
    second = evaluate()
    assert second["comparison"]["drops"] == [] and second["alert"]["fired"] is False, second["comparison"]

    # Night 3: 4 more (-0.1 again): the previous report sees -0.1, the baseline -0.2, and 0.8 < 0.85.
    fake_retriever.delete(set(sample[4:8]))
    third = evaluate()
    comparison = third["comparison"]
    assert comparison["previous_evaluation_id"] == second["evaluation_id"]
    assert comparison["baseline_evaluation_id"] == base["evaluation_id"]
    against = {d["against"] for d in comparison["drops"]}
    assert against == {"baseline", "floor"}, comparison["drops"]
    assert third["alert"]["fired"] is True and third["alert"]["published"] is True

    [alert] = drain_tasks(worker_env["RAGTASKS_BROKER_URL"], Queue.ALERTER.value, TaskName.RAISE_ALERT.value)
    assert alert["labels"]["against"] == "baseline,floor" and alert["fingerprint"] == "recall-drop:drift"
    assert f"against the baseline report {base['evaluation_id']}" in alert["body"]
    assert "below the floor 0.850" in alert["body"]

    # Night 4: the baseline pinned on night 3's report, the one before: 8 more lost (-0.2). The
    # previous report and the baseline are one report: the drop is said once, against the baseline.
    assert api.post(f"/v1/evaluations/{third['evaluation_id']}/baseline", headers=auth()).status_code == 200
    fake_retriever.delete(set(sample[8:16]))
    fourth = evaluate()
    comparison = fourth["comparison"]
    assert comparison["previous_evaluation_id"] == comparison["baseline_evaluation_id"] == third["evaluation_id"]
    assert [(d["metric"], d["against"]) for d in comparison["drops"]] == [
        ("hit_rate@10", "baseline"),
        ("hit_rate@10", "floor"),
    ], comparison["drops"]
    [alert] = drain_tasks(worker_env["RAGTASKS_BROKER_URL"], Queue.ALERTER.value, TaskName.RAISE_ALERT.value)
    assert alert["body"].count(third["evaluation_id"]) == 1, alert["body"]


def test_only_a_finished_report_can_be_the_baseline(worker_env: dict[str, str], api: TestClient, db: Any) -> None:
    load_kb(api, "unfinished", LEE[:5])
    evaluation_id = start_evaluation(api, "unfinished", 2, seed=1)  # no worker: stays queued
    r = api.post(f"/v1/evaluations/{evaluation_id}/baseline", headers=auth())
    assert r.status_code == 409 and "queued" in r.text, r.text
    assert "baseline" not in db.kbs.find_one({"_id": "unfinished"})
