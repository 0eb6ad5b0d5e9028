"""Recall evaluations: start one, follow its progress, read its report, list a KB's history."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import StreamingResponse

from ragtasks_core.contract import ID_PATTERN, TaskName
from ragtasks_core.contract.evaluator import RunEvaluation
from ragtasks_core.documents.evaluations import new_evaluation

from .. import ownership
from ..deps import CallerDep, DbDep, PublisherDep, SettingsDep, require_api_key
from ..models.evaluations import EvaluationAccepted, EvaluationRequest
from ..models.kbs import NO_URL
from ..safe_body import SafeJsonRoute
from ..stores import evaluations, kbs

router = APIRouter(
    prefix="/v1/evaluations", tags=["evaluations"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
EvaluationId = Annotated[str, Path(pattern=ID_PATTERN)]
# A page of rows: bounded, so a report of any size is read in requests of bounded size.
MAX_ROWS_PER_PAGE = 500


def _kb_not_found(kb_id: str) -> HTTPException:
    # One answer for a missing KB and another key's (RAGTASKS_API_KEY_ISOLATION).
    return HTTPException(status.HTTP_404_NOT_FOUND, f"knowledge base {kb_id!r} not found")


@router.post("", response_model=EvaluationAccepted, status_code=status.HTTP_202_ACCEPTED)
async def start_evaluation(
    body: EvaluationRequest, db: DbDep, publisher: PublisherDep, settings: SettingsDep, caller: CallerDep
) -> EvaluationAccepted:
    # What the body alone decides comes first: a foreign KB and a missing one then meet one 404.
    if body.sample_size > settings.eval_max_sample_size:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"sample_size {body.sample_size} is over the limit of {settings.eval_max_sample_size}",
        )
    own = body.retriever.model_dump(exclude_none=True) if body.retriever else None
    if own is not None and own["kind"] == "http" and not own.get("url") and not settings.retriever_url:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_URL)
    if caller.confined and not ownership.may_see(await kbs.kb_doc(db, body.kb_id), caller):
        raise _kb_not_found(body.kb_id)
    spec = own or await kbs.retriever_of(db, body.kb_id)
    problem = settings.retriever_problem() if spec is None else None
    if problem is not None:
        # The deployment's fault, not the request's: say so, write nothing (the worker checks too).
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"evaluations are misconfigured: {problem}")
    if spec is not None and spec["kind"] == "http" and not spec.get("url") and not settings.retriever_url:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_URL)
    active = await kbs.active_chunk_count(db, body.kb_id)
    if active is None:
        raise _kb_not_found(body.kb_id)
    if active == 0:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"knowledge base {body.kb_id!r} has no chunks")
    if body.questions == "labelled" and await kbs.query_count(db, body.kb_id) == 0:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"knowledge base {body.kb_id!r} has no labelled queries (POST /v1/kbs/{body.kb_id}/queries)",
        )
    evaluation_id = f"ev-{uuid.uuid4().hex}"
    task_id = str(uuid.uuid4())
    # No seed given: draw one and record it, so the evaluation can be reproduced.
    seed = body.seed if body.seed is not None else random.SystemRandom().randrange(2**31)
    doc = new_evaluation(
        evaluation_id,
        body.kb_id,
        sample_size=body.sample_size,
        k=body.k,
        seed=seed,
        trigger="api",
        task_id=task_id,
        now=datetime.now(UTC),
        owner=caller.owner,
    )
    if own is not None:
        doc["retriever_spec"] = own
    if body.questions == "labelled":
        doc["questions"] = "labelled"
    doc["questions_per_chunk"] = body.questions_per_chunk
    await evaluations.create(db, doc)
    published = await publisher.publish_after_write(
        TaskName.RUN_EVALUATION,
        RunEvaluation(evaluation_id=evaluation_id),
        task_id=task_id,
        # No sweep re-publishes an evaluation: it is failed, and the caller is told to retry.
        failed=lambda exc: evaluations.mark_not_published(db, evaluation_id, "broker unavailable"),
    )
    if not published:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "broker unavailable; try again", headers={"Retry-After": "30"}
        )
    return EvaluationAccepted(evaluation_id=evaluation_id, task_id=task_id, status="queued", seed=seed)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "done_batches")}
    out["evaluation_id"] = doc["_id"]
    return out


@router.get("/{evaluation_id}")
async def get_evaluation(evaluation_id: EvaluationId, db: DbDep, caller: CallerDep) -> dict[str, Any]:
    """The summary: status and progress; when done, ``metrics`` (``hit_rate@k``, ``recall@k``,
    ``precision@k``, ``mrr@k``, ``ndcg@k``, ``map@k``), counts, timings, the question set and
    the comparison. Rows are paged at ``/rows`` (or exported at ``/rows.csv``), never inline: a
    report of 1,000 chunks stays a few KB whatever its k."""
    doc = await _require(db, evaluation_id, caller)
    out = _public(doc)
    total = int(doc.get("total") or 0)
    done = await evaluations.rows_done(db, evaluation_id)
    out["progress"] = {
        "done": done,
        "total": total,
        "batches_done": len(doc.get("done_batches") or []),
        "batches": int(doc.get("batches") or 0),
        "fraction": round(done / total, 4) if total else (1.0 if doc.get("status") == "done" else 0.0),
    }
    out["rows"] = {"total": done, "url": f"/v1/evaluations/{evaluation_id}/rows", "max_limit": MAX_ROWS_PER_PAGE}
    return out


@router.get("/{evaluation_id}/rows")
async def get_rows(
    evaluation_id: EvaluationId,
    db: DbDep,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS_PER_PAGE)] = 100,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """A page of the report's rows, in chunk-id order: question, rank or miss, the retrieved ids
    (at most the largest k), error; ``next_offset`` is None on the last page. ``format=csv``
    streams every row as CSV, like ``/rows.csv``."""
    if format == "csv":
        return await export_rows(evaluation_id, db, caller)
    await _require(db, evaluation_id, caller)
    rows = await evaluations.rows_page(db, evaluation_id, offset, limit)
    total = await evaluations.rows_done(db, evaluation_id)
    for row in rows:
        row["hit"] = row.get("rank") is not None
        row["query_id"] = _query_id(row)
    following = offset + len(rows)
    return {
        "evaluation_id": evaluation_id,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": following if following < total else None,
        "rows": rows,
    }


@router.get("/{evaluation_id}/rows.csv")
async def export_rows(evaluation_id: EvaluationId, db: DbDep, caller: CallerDep) -> StreamingResponse:
    """Every row as CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese), streamed from
    Mongo 500 rows at a time: memory stays flat whatever the report's size."""
    await _require(db, evaluation_id, caller)

    async def lines() -> AsyncIterator[bytes]:
        yield ("\ufeff" + _csv_line(CSV_COLUMNS)).encode("utf-8")
        async for row in evaluations.iter_rows(db, evaluation_id):
            yield _csv_line(_csv_values(row)).encode("utf-8")

    headers = {"Content-Disposition": f'attachment; filename="{evaluation_id}-rows.csv"'}
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)


# New columns go at the end: scripts read these by position.
CSV_COLUMNS = [
    "chunk_id",
    "question",
    "question_source",
    "rank",
    "hit",
    "retrieved",
    "error",
    "retrieval_ms",
    "question_index",
    "query_id",
    "relevant",
]
# A labelled query's row is keyed by its query id (in the ``chunk_id`` field, the key every row
# has); a generated question's by its chunk.
LABELLED = "labelled"


def _query_id(row: dict[str, Any]) -> str | None:
    return row.get("chunk_id") if row.get("question_source") == LABELLED else None


def _csv_values(row: dict[str, Any]) -> list[Any]:
    rank = row.get("rank")
    retrieved = " ".join(str(i) for i in row.get("retrieved") or [])  # ids have no spaces (ID_PATTERN)
    return [
        row.get("chunk_id"),
        row.get("question"),
        row.get("question_source"),
        "" if rank is None else rank,
        int(rank is not None),
        retrieved,
        row.get("error") or "",
        row.get("retrieval_ms"),
        row.get("question_index", 0),  # rows written before questions_per_chunk have none
        _query_id(row) or "",
        # "chunk=grade" pairs: ids hold no "=" or space (ID_PATTERN), so the cell splits back exactly.
        " ".join(f"{chunk}={grade}" for chunk, grade in row.get("relevant") or []),
    ]


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


async def _require(db: DbDep, evaluation_id: str, caller: CallerDep) -> dict[str, Any]:
    """The evaluation; 404 when there is none, or it is another key's (RAGTASKS_API_KEY_ISOLATION)."""
    doc = await evaluations.get(db, evaluation_id)
    if doc is None or not ownership.may_see(doc, caller):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"evaluation {evaluation_id!r} not found")
    return doc


@router.post("/{evaluation_id}/baseline")
async def pin_baseline(evaluation_id: EvaluationId, db: DbDep, caller: CallerDep) -> dict[str, Any]:
    """Pin a finished report as its KB's baseline: later comparable reports (same retriever,
    questions, seed, size and k) alert when hit_rate@k falls ``RAGTASKS_EVAL_DROP_THRESHOLD``
    below it, however slowly it got there."""
    doc = await _require(db, evaluation_id, caller)
    if caller.confined and not ownership.may_see(await kbs.kb_doc(db, str(doc["kb_id"])), caller):
        # An evaluation of a KB that is (now) another key's pins nothing there: the same 404.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"evaluation {evaluation_id!r} not found")
    if doc.get("status") != "done":
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"evaluation {evaluation_id!r} is {doc.get('status')}; only a finished one"
        )
    baseline = await kbs.set_baseline(db, str(doc["kb_id"]), evaluation_id, datetime.now(UTC))
    return {"kb_id": doc["kb_id"], "baseline": baseline, "comparison_key": doc.get("comparison_key")}


@router.get("")
async def list_evaluations(
    db: DbDep,
    caller: CallerDep,
    kb_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Evaluation history, newest first (no per-chunk details); a confined key's own only."""
    docs = await evaluations.history(db, kb_id, limit, caller)
    return {"evaluations": [_public(d) for d in docs]}
