"""Payloads of the evaluator queue, and the Mongo collections the gateway and the evaluator share.

Payloads carry ids only: the sampled chunk ids, questions and per-chunk results live in Mongo.
"""

from __future__ import annotations

from pydantic import Field, model_validator

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
    """Merge duplicates and align the vector index of one KB, or of every KB when ``kb_id`` is None.

    With ``evaluation_id`` (nightly, one KB only): once this KB's maintenance has run, create that
    evaluation (once) and publish its ``run_evaluation``.
    """

    kb_id: Id | None = None
    evaluation_id: Id | None = None

    @model_validator(mode="after")
    def _evaluation_needs_a_kb(self) -> MaintainKb:
        if self.evaluation_id is not None and self.kb_id is None:
            raise ValueError("evaluation_id needs kb_id")
        return self


class Nightly(Payload):
    """One ``maintain_kb`` per KB; each KB of ``kb_ids`` (default: RAGTASKS_EVAL_KBS) is evaluated after its own."""

    kb_ids: list[Id] | None = Field(default=None, max_length=100)


TASK_PAYLOADS = {
    TaskName.RUN_EVALUATION: RunEvaluation,
    TaskName.EVALUATE_BATCH: EvaluateBatch,
    TaskName.FINALIZE_EVALUATION: FinalizeEvaluation,
    TaskName.MAINTAIN_KB: MaintainKb,
    TaskName.NIGHTLY: Nightly,
}
