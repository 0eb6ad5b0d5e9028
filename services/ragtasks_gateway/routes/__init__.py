"""HTTP routes, one module per resource. ``ROUTERS`` is what the app mounts."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Each module exposes ``router``. Feature modules (kbs, evaluations, alerts...) are added here.
_MODULES = ["health", "sessions", "tasks"]
OPTIONAL_MODULES = ["kbs", "evaluations", "alerts", "retrieval_events"]


def routers() -> list[APIRouter]:
    found = []
    for name in _MODULES + OPTIONAL_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}" and name in OPTIONAL_MODULES:
                continue
            raise
        found.append(module.router)
    return found
