"""Bodies of ``/v1/tasks``, and the answer of a route that started a task."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class TaskAccepted(BaseModel):
    task_id: str


class TaskStatus(BaseModel):
    task_id: str
    state: str
    result: Any = None
    error: str | None = None
