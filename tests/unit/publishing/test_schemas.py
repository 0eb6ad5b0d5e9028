"""docs/schemas must match the contract's Pydantic models, and cover every task with a model."""

from __future__ import annotations

import json
import types
from pathlib import Path

import jsonschema
import pytest

from ragtasks_core.contract import Queue, TaskName, registry
from ragtasks_core.contract.common import Payload
from ragtasks_core.contract.registry import ContractError, json_schemas, payload_models, render

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_docs_schemas_match_the_models() -> None:
    wanted = {f"{task}.json": render(schema) for task, schema in json_schemas().items()}
    present = {p.name: p.read_text() for p in SCHEMAS.glob("*.json")}
    drifted = sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))
    assert not drifted, f"docs/schemas drifted from the models: {drifted}; run scripts/gen_schemas.py"


def test_registry_maps_core_tasks_and_only_known_names() -> None:
    models = payload_models()
    assert models[TaskName.SUMMARIZE_SESSION.value].__name__ == "SummarizeSession"
    for ping in (TaskName.SUMMARIZER_PING, TaskName.EVALUATOR_PING, TaskName.ALERTER_PING, TaskName.SWEEP_OUTBOX):
        assert ping.value in models
    assert set(models) <= {t.value for t in TaskName}


def test_schemas_accept_valid_and_refuse_invalid_payloads() -> None:
    schema = json.loads((SCHEMAS / f"{TaskName.SUMMARIZE_SESSION.value}.json").read_text())
    jsonschema.validate({"v": 1, "session_id": "chat-1", "reason": "manual"}, schema)
    for bad in (
        {"v": 99, "session_id": "chat-1"},
        {"v": 1, "session_id": "$gt"},
        {"v": 1},
        {"session_id": "a", "x": 1},
    ):
        try:
            jsonschema.validate(bad, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"schema accepted {bad}")


def test_every_task_has_a_payload_model_declared_not_guessed() -> None:
    models = payload_models()
    assert set(models) == {t.value for t in TaskName}
    from ragtasks_core.contract import summarizer

    assert {str(k) for k in summarizer.TASK_PAYLOADS} == {
        t.value for t in TaskName if t.value.startswith("ragtasks.summarizer.")
    }
    for task, model in summarizer.TASK_PAYLOADS.items():
        assert models[task.value] is model


def test_a_wrong_or_incomplete_map_fails_loudly() -> None:
    class Odd(Payload):
        """Names ``ragtasks.alerter.deliver`` but lives in the wrong module."""

    wrong = types.ModuleType("ragtasks_core.contract.summarizer")
    wrong.TASK_PAYLOADS = {TaskName.DELIVER_ALERT: Odd}  # type: ignore[attr-defined]
    with pytest.raises(ContractError, match="not a task of queue 'summarizer'"):
        registry._declared(Queue.SUMMARIZER, wrong, wrong.TASK_PAYLOADS)  # type: ignore[attr-defined]
    not_a_model = {TaskName.SUMMARIZE_SESSION: dict}
    with pytest.raises(ContractError, match="is not a Payload model"):
        registry._declared(Queue.SUMMARIZER, wrong, not_a_model)

    incomplete = {TaskName.RAISE_ALERT: Odd}
    with pytest.raises(ContractError, match=r"has no model for \['ragtasks.alerter.flush_alerts'"):
        registry._declared(Queue.ALERTER, wrong, incomplete)


def test_a_module_without_a_map_is_an_error_not_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragtasks_core.contract import alerter

    # The models' docstrings still name their tasks: nothing may be guessed from them.
    monkeypatch.delattr(alerter, "TASK_PAYLOADS")
    with pytest.raises(ContractError, match=r"ragtasks_core\.contract\.alerter declares no TASK_PAYLOADS"):
        payload_models()


def test_every_contract_module_declares_its_map() -> None:
    import importlib

    for queue in Queue:
        module = importlib.import_module(f"ragtasks_core.contract.{queue.value}")
        declared = {str(task) for task in module.TASK_PAYLOADS}
        assert declared >= {t.value for t in TaskName if t.value.startswith(f"ragtasks.{queue.value}.")} - {
            f"ragtasks.{queue.value}.ping"
        }
