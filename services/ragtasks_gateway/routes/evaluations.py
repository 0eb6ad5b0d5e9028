"""Recall evaluations: start one, follow its progress, read its report, list a KB's history."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtasks_core.contract import ID_PATTERN, TaskName
from ragtasks_core.contract.evaluator import RunEvaluation

from .. import kbs_store
from ..deps import DbDep, PublisherDep, SettingsDep, require_api_key
from ..publisher import PublishError

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"], dependencies=[Depends(require_api_key)])
EvaluationId = Annotated[str, Path(pattern=ID_PATTERN)]
MAX_K = 1000


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb_id: str = Field(pattern=ID_PATTERN)
    sample_size: int = Field(ge=1)
    k: list[int] = Field(default_factory=lambda: [1, 5, 10], min_length=1, max_length=20)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)

    @field_validator("k")
    @classmethod
    def _valid_ks(cls, value: list[int]) -> list[int]:
        if any(k < 1 or k > MAX_K for k in value):
            raise ValueError(f"every k must be between 1 and {MAX_K}")
        return sorted(set(value))


class EvaluationAccepted(BaseModel):
    evaluation_id: str
    task_id: str
    status: str
    seed: int


@router.post("", response_model=EvaluationAccepted, status_code=status.HTTP_202_ACCEPTED)
async def start_evaluation(
    body: EvaluationRequest, db: DbDep, publisher: PublisherDep, settings: SettingsDep
) -> EvaluationAccepted:
    problem = settings.retriever_problem()
    if problem is not None:
        # The deployment's fault, not the request's: say so, write nothing (the worker checks too).
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"evaluations are misconfigured: {problem}")
    if body.sample_size > settings.eval_max_sample_size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"sample_size {body.sample_size} is over the limit of {settings.eval_max_sample_size}",
        )
    active = await kbs_store.active_chunk_count(db, body.kb_id)
    if active is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {body.kb_id!r} not found")
    if active == 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"knowledge base {body.kb_id!r} has no chunks")
    evaluation_id = f"ev-{uuid.uuid4().hex}"
    task_id = str(uuid.uuid4())
    # No seed given: draw one and record it, so the evaluation can be reproduced.
    seed = body.seed if body.seed is not None else random.SystemRandom().randrange(2**31)
    await kbs_store.create_evaluation(
        db,
        {
            "_id": evaluation_id,
            "kb_id": body.kb_id,
            "status": "queued",
            "sample_size": body.sample_size,
            "k": body.k,
            "seed": seed,
            "trigger": "api",
            "task_id": task_id,
            "created_at": datetime.now(UTC),
        },
    )
    try:
        await publisher.publish(TaskName.RUN_EVALUATION, RunEvaluation(evaluation_id=evaluation_id), task_id=task_id)
    except PublishError as exc:
        await kbs_store.set_evaluation_fields(db, evaluation_id, {"status": "failed", "error": "broker unavailable"})
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "broker unavailable; try again", headers={"Retry-After": "30"}
        ) from exc
    return EvaluationAccepted(evaluation_id=evaluation_id, task_id=task_id, status="queued", seed=seed)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "done_batches")}
    out["evaluation_id"] = doc["_id"]
    return out


@router.get("/{evaluation_id}")
async def get_evaluation(
    evaluation_id: EvaluationId,
    db: DbDep,
    details: bool = True,
    details_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Status and progress; when done, ``metrics`` (``hit_rate@k``, ``mrr@k``), counts, timings,
    the comparison with the previous report, and per-chunk ``details`` (question, rank or miss)."""
    doc = await kbs_store.get_evaluation(db, evaluation_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"evaluation {evaluation_id!r} not found")
    out = _public(doc)
    total = int(doc.get("total") or 0)
    done = await kbs_store.rows_done(db, evaluation_id)
    out["progress"] = {
        "done": done,
        "total": total,
        "batches_done": len(doc.get("done_batches") or []),
        "batches": int(doc.get("batches") or 0),
        "fraction": round(done / total, 4) if total else (1.0 if doc.get("status") == "done" else 0.0),
    }
    if details:
        rows = await kbs_store.evaluation_rows(db, evaluation_id, details_limit)
        out["details"] = [
            {
                "chunk_id": r["chunk_id"],
                "question": r.get("question"),
                "question_source": r.get("question_source"),
                "rank": r.get("rank"),
                "hit": r.get("rank") is not None,
                "retrieved": r.get("retrieved", []),
                "error": r.get("error"),
                "question_ms": r.get("question_ms"),
                "retrieval_ms": r.get("retrieval_ms"),
            }
            for r in rows
        ]
    return out


@router.get("")
async def list_evaluations(
    db: DbDep,
    kb_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Evaluation history, newest first (no per-chunk details)."""
    docs = await kbs_store.list_evaluations(db, kb_id, limit)
    return {"evaluations": [_public(d) for d in docs]}
