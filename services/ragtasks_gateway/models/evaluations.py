"""Bodies of ``/v1/evaluations``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ragtasks_core.contract import ID_PATTERN
from ragtasks_core.contract.evaluator import RetrieverSpec

MAX_K = 1000


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb_id: str = Field(pattern=ID_PATTERN)
    sample_size: int = Field(ge=1, le=2**63 - 1)
    k: list[int] = Field(default_factory=lambda: [1, 5, 10], min_length=1, max_length=20)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # The retriever to measure (default: the KB's own, else RAGTASKS_RETRIEVER).
    retriever: RetrieverSpec | None = None
    # generated: a question per sampled chunk; labelled: the KB's labelled queries (POST /v1/kbs/{kb_id}/queries).
    questions: Literal["generated", "labelled"] = "generated"
    # Generated questions per sampled chunk, each evaluated as a query of its own (stored per chunk
    # text and reused, like the first); the nightly evaluations use RAGTASKS_EVAL_QUESTIONS_PER_CHUNK.
    questions_per_chunk: int = Field(default=1, ge=1, le=10)

    @field_validator("k")
    @classmethod
    def _valid_ks(cls, value: list[int]) -> list[int]:
        if any(k < 1 or k > MAX_K for k in value):
            raise ValueError(f"every k must be between 1 and {MAX_K}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _one_question_per_labelled_query(self) -> EvaluationRequest:
        if self.questions == "labelled" and self.questions_per_chunk != 1:
            raise ValueError("questions_per_chunk is for generated questions; a labelled query is one question")
        return self


class EvaluationAccepted(BaseModel):
    evaluation_id: str
    task_id: str
    status: str
    seed: int
