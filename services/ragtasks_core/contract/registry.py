"""Which payload model each task name takes: the map behind ``docs/schemas`` and ``ragtasks publish``.

Each queue's payload module (``contract.summarizer``, ``contract.evaluator``, ``contract.alerter``)
declares ``TASK_PAYLOADS = {TaskName.X: Model}``, and that map is used exactly as declared. A
queue without a module or a map, a task of another queue, a value that is not a ``Payload``
model, or a task of the queue left out (pings aside) is an error, raised here rather than
discovered by a producer. A ping no module declares takes the bare ``Payload`` (``{"v": 1}``).
"""

from __future__ import annotations

import importlib
import inspect
import json
from types import ModuleType

from . import Queue, TaskName, queue_for
from .common import Payload

# Pings take the bare versioned envelope unless their queue's module declares a model.
_PINGS: frozenset[str] = frozenset({TaskName.SUMMARIZER_PING, TaskName.EVALUATOR_PING, TaskName.ALERTER_PING})


class ContractError(RuntimeError):
    """A contract module's task -> payload map is missing, wrong or incomplete."""


def _module(queue: Queue) -> ModuleType:
    name = f"{__package__}.{queue.value}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise ContractError(f"queue {queue.value!r} has no contract module {name}") from None


def _tasks_of(queue: Queue) -> list[str]:
    return [task.value for task in TaskName if queue_for(task.value) is queue]


def _declared(queue: Queue, module: ModuleType, declared: object) -> dict[str, type[Payload]]:
    if not isinstance(declared, dict):
        raise ContractError(f"{module.__name__}.TASK_PAYLOADS must be a dict of TaskName -> Payload model")
    found: dict[str, type[Payload]] = {}
    for task, model in declared.items():
        name = str(task)
        if name not in _tasks_of(queue):
            raise ContractError(f"{module.__name__}.TASK_PAYLOADS names {name!r}, not a task of queue {queue.value!r}")
        if not (inspect.isclass(model) and issubclass(model, Payload)):
            raise ContractError(f"{module.__name__}.TASK_PAYLOADS[{name!r}] is not a Payload model: {model!r}")
        found[name] = model
    missing = [t for t in _tasks_of(queue) if t not in found and t not in _PINGS]
    if missing:
        raise ContractError(f"{module.__name__}.TASK_PAYLOADS has no model for {missing}")
    return found


def payload_models() -> dict[str, type[Payload]]:
    """Task name -> payload model, for every task of every queue."""
    found: dict[str, type[Payload]] = {}
    for queue in Queue:
        module = _module(queue)
        declared = getattr(module, "TASK_PAYLOADS", None)
        if declared is None:
            raise ContractError(f"{module.__name__} declares no TASK_PAYLOADS")
        found.update(_declared(queue, module, declared))
        for ping in _PINGS & set(_tasks_of(queue)):
            found.setdefault(ping, Payload)
    return dict(sorted(found.items()))


def model_for(task: str) -> type[Payload] | None:
    return payload_models().get(task)


def json_schemas() -> dict[str, dict[str, object]]:
    """Task name -> the JSON Schema of its payload (what ``docs/schemas/<task>.json`` holds)."""
    schemas: dict[str, dict[str, object]] = {}
    for task, model in payload_models().items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://ragtasks.invalid/schemas/{task}.json"
        schema["title"] = f"{task} payload ({model.__name__})"
        schemas[task] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return schemas


def render(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
