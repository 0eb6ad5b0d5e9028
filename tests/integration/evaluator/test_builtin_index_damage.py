"""The built-in vector index loses a third of its points: recall falls, the alert is raised, and
the nightly maintenance's alignment brings recall back.

The index is the evaluator's own (embedded Qdrant, offline embedder) and lives inside the process
that runs the evaluation, so this test runs the evaluator's steps in its own process -- the same
service functions the tasks call, in the order the tasks publish each other, against the real
Mongo server -- to be able to damage that index between two evaluations. The same recall drop
travelling through real workers and RabbitMQ to the WeCom robot is in test_evaluation_flow.py.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings
from ragtasks_evaluator import evaluation, questions, report, retrieval, store
from ragtasks_evaluator.maintenance import maintain_kb
from ragtasks_gateway.app import create_app
from tests.integration.evaluator.helpers import LEE, load_kb


class InlineEvaluator:
    """Runs what the evaluator's tasks would run, publishing to an in-memory queue."""

    def __init__(self, db: Any, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.retrievers = retrieval.Retrievers(settings)  # what a worker's runtime holds
        self.queue: deque[tuple[TaskName, dict[str, Any]]] = deque()
        self.alerts: list[RaiseAlert] = []

    def publish(self, name: TaskName, kwargs: dict[str, Any], task_id: str) -> None:
        self.queue.append((name, kwargs))

    def evaluate(self, kb_id: str, sample_size: int, seed: int) -> dict[str, Any]:
        evaluation_id = f"ev-{uuid.uuid4().hex}"
        doc = {"_id": evaluation_id, "kb_id": kb_id, "status": "queued", "sample_size": sample_size}
        doc |= {"k": [1, 5, 10], "seed": seed, "trigger": "test", "created_at": datetime.now(UTC)}
        store.create_evaluation(self.db, doc)
        self.publish(TaskName.RUN_EVALUATION, {"evaluation_id": evaluation_id}, "run")
        while self.queue:
            self.run(*self.queue.popleft())
        report = store.load_evaluation(self.db, evaluation_id)
        assert report is not None and report["status"] == store.DONE, report
        return report

    def run(self, name: TaskName, kwargs: dict[str, Any]) -> None:
        evaluation_id = kwargs.get("evaluation_id", "")
        if name is TaskName.RUN_EVALUATION:
            generator = questions.OFFLINE_QUESTION_GENERATOR
            evaluation.start_evaluation(
                self.db, evaluation_id, settings=self.settings, question_generator=generator, publish=self.publish
            )
        elif name is TaskName.EVALUATE_BATCH:
            doc = store.load_evaluation(self.db, evaluation_id)
            assert doc is not None
            evaluation.evaluate_batch(
                self.db,
                evaluation_id,
                kwargs["batch"],
                writer=questions.offline_writer,
                retriever=self.retrievers.build(self.db, doc["kb_id"]),
                questions_per_call=self.settings.eval_questions_per_llm_call,
                publish=self.publish,
            )
        elif name is TaskName.FINALIZE_EVALUATION:
            report.finalize_evaluation(self.db, evaluation_id, settings=self.settings, publish=self.publish)
        elif name is TaskName.RAISE_ALERT:
            self.alerts.append(RaiseAlert.model_validate(kwargs))  # the alerter's contract, by name
        else:
            raise AssertionError(f"unexpected task {name}")


def test_damaged_builtin_index_drops_recall_raises_the_alert_and_maintenance_repairs_it(
    make_settings: Callable[..., Settings], db: Any
) -> None:
    settings = make_settings(retriever="vector", eval_batch_size=20, eval_drop_threshold=0.1)
    kb = f"lee-{uuid.uuid4().hex[:6]}"
    with TestClient(create_app(settings)) as api:
        load_kb(api, kb, LEE)
    store.ensure_indexes(db)
    evaluator = InlineEvaluator(db, settings)

    intact = evaluator.evaluate(kb, 60, seed=7)
    assert intact["retriever"] == "vector" and intact["metrics"]["hit_rate@10"] >= 0.7, intact["metrics"]
    assert evaluator.alerts == []

    # A third of the index vanishes (Mongo, the source of truth, keeps every chunk).
    index = evaluator.retrievers.index
    ids = sorted(c["chunk_id"] for c in LEE)
    index.delete(kb, random.Random(5).sample(ids, len(ids) // 3))
    assert index.count(kb) == len(ids) - len(ids) // 3

    damaged = evaluator.evaluate(kb, 60, seed=7)
    drop = intact["metrics"]["hit_rate@10"] - damaged["metrics"]["hit_rate@10"]
    print(f"\nhit_rate@10: intact {intact['metrics']['hit_rate@10']}, damaged {damaged['metrics']['hit_rate@10']}")
    assert 0.1 <= drop <= 0.6, (intact["metrics"], damaged["metrics"])
    assert damaged["comparison"]["previous_evaluation_id"] == intact["_id"]
    [alert] = evaluator.alerts
    assert alert.fingerprint == f"recall-drop:{kb}" and alert.source == "evaluator" and "hit_rate@10" in alert.body

    # Nightly maintenance (it also merges the corpus's duplicate chunks) aligns the index with
    # Mongo's active chunks again, and recall comes back; a recovery raises no alert.
    report = maintain_kb(db, kb, settings=settings, retrievers=evaluator.retrievers)
    active = len(store.chunks(db, kb, active_only=True))
    assert report["active"] == active and index.count(kb) == active, report
    assert report["index"]["upserted"] > 0
    repaired = evaluator.evaluate(kb, 60, seed=7)
    assert repaired["metrics"]["hit_rate@10"] >= intact["metrics"]["hit_rate@10"] - 0.05, repaired["metrics"]
    assert repaired["metrics"]["hit_rate@10"] - damaged["metrics"]["hit_rate@10"] >= 0.1
    assert len(evaluator.alerts) == 1
