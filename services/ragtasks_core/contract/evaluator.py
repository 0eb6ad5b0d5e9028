"""Payloads of the evaluator queue.

Payloads carry ids only: the sampled chunk ids, questions and per-chunk results live in Mongo.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import TaskName
from .common import Id, Payload

# The Mongo collections the gateway and the evaluator share (kbs, kb_chunks, kb_queries, kb_merges,
# evaluations, evaluation_rows) are declared in ``ragtasks_core.documents``, one module each.


RetrieverKind = Literal["http", "bm25", "vector"]
# A dotted path to the chunk ids in the http retriever's answer ("ids", "results.*.chunk_id").
IDS_FIELD_PATTERN = r"^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+){0,7}$"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class RetrieverSpec(BaseModel):
    """Which retriever a KB (``PUT /v1/kbs/{kb_id}``) or one evaluation is measured with.

    Unset fields fall back to the settings (``RAGTASKS_RETRIEVER_*``). ``url`` (http only) may
    name the KB as ``{kb_id}``, its only placeholder. No secret is stored here: the http
    retriever authenticates with ``RAGTASKS_RETRIEVER_AUTH_HEADER``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RetrieverKind
    url: str | None = Field(default=None, max_length=2000)
    ids_field: str | None = Field(default=None, pattern=IDS_FIELD_PATTERN)
    top_k: int | None = Field(default=None, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _http_url_with_only_kb_id(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if any(p != "{kb_id}" for p in _PLACEHOLDER.findall(url)) or "{" in _PLACEHOLDER.sub("", url):
            raise ValueError("url: {kb_id} is the only placeholder")
        parts = urlsplit(url.replace("{kb_id}", "kb"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an http(s) URL")
        return url

    @model_validator(mode="after")
    def _http_fields_only_for_http(self) -> RetrieverSpec:
        if self.kind != "http" and (self.url is not None or self.ids_field is not None):
            raise ValueError("url and ids_field are for the http retriever only")
        return self


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
