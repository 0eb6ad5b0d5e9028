"""Payloads of the evaluator queue, and the Mongo collections the gateway and the evaluator share.

Payloads carry ids only: the sampled chunk ids, questions and per-chunk results live in Mongo.
"""

from __future__ import annotations

from pydantic import Field

from . import TaskName
from .common import Id, Payload

# Collections (the gateway writes chunks and evaluation requests; the evaluator the rest).
KBS = "kbs"  # one document per knowledge base: _id = kb_id, version counter, last maintenance
KB_CHUNKS = "kb_chunks"  # one document per chunk, unique (kb_id, chunk_id)
EVALUATIONS = "evaluations"  # one document per evaluation: status, progress, report
EVALUATION_ROWS = "evaluation_rows"  # one document per (evaluation_id, chunk_id)


class RunEvaluation(Payload):
    """Sample the chunks of an evaluation and fan out its batches (``ragtasks.evaluator.run_evaluation``)."""

    evaluation_id: Id


class EvaluateBatch(Payload):
    """Write questions for one batch of sampled chunks and score the retriever on them."""

    evaluation_id: Id
    batch: int = Field(ge=0, le=100_000)


class FinalizeEvaluation(Payload):
    """Aggregate an evaluation's rows into its report, compare with the previous one, alert."""

    evaluation_id: Id


class MaintainKb(Payload):
    """Merge duplicates and align the vector index of one KB, or of every KB when ``kb_id`` is None."""

    kb_id: Id | None = None


class Nightly(Payload):
    """Maintenance of every KB, then an evaluation of each of ``kb_ids`` (default: RAGTASKS_EVAL_KBS)."""

    kb_ids: list[Id] | None = Field(default=None, max_length=100)


TASK_PAYLOADS = {
    TaskName.RUN_EVALUATION: RunEvaluation,
    TaskName.EVALUATE_BATCH: EvaluateBatch,
    TaskName.FINALIZE_EVALUATION: FinalizeEvaluation,
    TaskName.MAINTAIN_KB: MaintainKb,
    TaskName.NIGHTLY: Nightly,
}
