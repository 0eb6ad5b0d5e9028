"""Which payload model each task name takes: the map behind ``docs/schemas`` and ``ragtasks publish``.

Each payload module (``contract.summarizer``, ``contract.evaluator``, ``contract.alerter``) declares
``TASK_PAYLOADS = {TaskName.X: Model}``, and that map is used exactly as declared: a task of
another queue, or a value that is not a ``Payload`` model, is an error. A module without the map
(a contract being migrated) falls back to the docstring convention -- the one ``Payload`` subclass
whose docstring names the task ("... (``ragtasks.a.b``)"), else the one named after it
(``deliver`` -> ``Deliver``) -- and every task of its queue except the ping must then be found,
or this fails loudly. A ping no module declares takes the bare ``Payload`` (``{"v": 1}``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from types import ModuleType

from . import Queue, TaskName, queue_for
from .common import Payload

# Pings take the bare versioned envelope unless their queue's module declares a model.
_PINGS: frozenset[str] = frozenset({TaskName.SUMMARIZER_PING, TaskName.EVALUATOR_PING, TaskName.ALERTER_PING})
_DOC_TASK = re.compile(r"``(ragtasks\.[a-z_]+\.[a-z_]+)``")


class ContractError(RuntimeError):
    """A contract module's task -> payload map is wrong or incomplete."""


def _module(queue: Queue) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__package__}.{queue.value}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{queue.value}":
            raise
        return None


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
    return found


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _guessed(queue: Queue, module: ModuleType) -> dict[str, type[Payload]]:
    """The docstring convention, for a module that declares no TASK_PAYLOADS."""
    classes = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and issubclass(obj, Payload) and obj is not Payload
    }
    found: dict[str, type[Payload]] = {}
    for model in classes.values():
        for task in set(_DOC_TASK.findall(model.__doc__ or "")) & set(_tasks_of(queue)):
            if task in found and found[task] is not model:
                raise ContractError(f"{task!r} is named by both {found[task].__name__} and {model.__name__}")
            found[task] = model
    for task in _tasks_of(queue):
        named_after = classes.get(_camel(task.rsplit(".", 1)[1]))
        if task not in found and named_after is not None:
            found[task] = named_after
    missing = [t for t in _tasks_of(queue) if t not in found and t not in _PINGS]
    if missing:
        raise ContractError(f"{module.__name__} declares no TASK_PAYLOADS and has no model for {missing}")
    return found


def payload_models() -> dict[str, type[Payload]]:
    """Task name -> payload model, for every task whose queue has a contract module."""
    found: dict[str, type[Payload]] = {}
    for queue in Queue:
        module = _module(queue)
        if module is None:
            continue
        declared = getattr(module, "TASK_PAYLOADS", None)
        found.update(_guessed(queue, module) if declared is None else _declared(queue, module, declared))
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
