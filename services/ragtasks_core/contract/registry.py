"""Which payload model each task name takes: the map behind ``docs/schemas`` and ``ragtasks publish``.

The payload modules (``contract.summarizer``, ``contract.evaluator``, ``contract.alerter``) are
imported defensively, so a queue whose contract module does not exist yet simply has no models.
A module may declare ``TASK_PAYLOADS = {TaskName.X: Model}``; otherwise a task is matched to the
``Payload`` subclass whose docstring names it (the contract's convention: "... (``ragtasks.a.b``)"),
then to the one named after it (``summarize_session`` -> ``SummarizeSession``, ``ping`` -> ``Ping``).
Pings and the sweep without a model of their own take the bare ``Payload``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from types import ModuleType

from . import Queue, TaskName, queue_for
from .common import Payload

log = logging.getLogger(__name__)

# Tasks whose payload is the bare versioned envelope ``{"v": 1}``.
_BARE: frozenset[str] = frozenset({TaskName.SWEEP_OUTBOX.value})
_DOC_TASK = re.compile(r"``(ragtasks\.[a-z_]+\.[a-z_]+)``")


def _module(queue: Queue) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__package__}.{queue.value}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{queue.value}":
            raise
        return None


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def payload_models() -> dict[str, type[Payload]]:
    """Task name -> payload model, for every task that has one."""
    found: dict[str, type[Payload]] = {}
    for queue in Queue:
        module = _module(queue)
        if module is None:
            continue
        declared = getattr(module, "TASK_PAYLOADS", None)
        if isinstance(declared, dict):
            found.update({str(k): v for k, v in declared.items()})
        classes = {
            name: obj
            for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, Payload) and obj is not Payload
        }
        for model in classes.values():
            named = _DOC_TASK.findall(model.__doc__ or "")
            if len(named) == 1 and named[0] in TaskName.__members__.values() and named[0] not in found:
                found[named[0]] = model
        for task in TaskName:
            if queue_for(task.value) is queue and task.value not in found:
                named_after = classes.get(_camel(task.value.rsplit(".", 1)[1]))
                if named_after is not None:
                    found[task.value] = named_after
    for task in TaskName:
        if task.value not in found and (task.value in _BARE or task.value.endswith(".ping")):
            found[task.value] = Payload
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
    import json

    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
