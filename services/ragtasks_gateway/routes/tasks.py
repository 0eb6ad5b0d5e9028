"""Task state from the Redis result backend."""

from __future__ import annotations

from typing import Annotated, Any

from celery.result import AsyncResult
from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from ragtasks_core.contract import ID_PATTERN

from ..deps import require_api_key
from ..models.tasks import TaskStatus
from ..safe_body import SafeJsonRoute

router = APIRouter(
    prefix="/v1/tasks", tags=["tasks"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)


def _read(app: Any, task_id: str) -> TaskStatus:
    result = AsyncResult(task_id, app=app)
    state = result.state
    error = None
    value: Any = None
    if state == "FAILURE":
        exc = result.result
        error = f"{type(exc).__name__}: {exc}" if exc is not None else "failed"
    elif state == "RETRY":
        error = str(result.result) if result.result is not None else None
    elif state == "SUCCESS":
        value = result.result
    return TaskStatus(task_id=task_id, state=state, result=value, error=error)


@router.get("/{task_id}", response_model=TaskStatus)
async def get_task(task_id: Annotated[str, Path(pattern=ID_PATTERN)], request: Request) -> TaskStatus:
    return await run_in_threadpool(_read, request.app.state.celery, task_id)
