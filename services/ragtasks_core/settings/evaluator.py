"""Recall evaluation: the nightly run, the question writer, the retriever under test, its index."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from .transforms import BlankIsNone, CommaList


class EvaluatorSettings(BaseModel):
    eval_kbs: CommaList[str] = Field(default_factory=list)  # nightly: comma-separated KB ids
    eval_sample_size: int = Field(100, ge=1)  # nightly sample size
    eval_max_sample_size: int = Field(5000, ge=1)
    eval_k: CommaList[int] = Field(default_factory=lambda: [1, 5, 10])  # nightly k values: "1,5,10"
    eval_seed: int = 42  # nightly seed: the same sample every night, so reports compare like with like
    eval_batch_size: int = Field(20, ge=1, le=500)  # chunks per evaluate_batch subtask
    eval_questions_per_llm_call: int = Field(5, ge=1, le=50)
    # Questions written per sampled chunk (each stored once per chunk text hash, writer and model).
    eval_questions_per_chunk: int = Field(1, ge=1, le=10)
    eval_question_max_tokens: int = Field(1024, ge=32)
    # Alert when hit_rate@k falls by at least this much (absolute, 0..1) from the previous report.
    eval_drop_threshold: float = Field(0.1, gt=0, le=1)
    # Absolute floor: a finished report whose hit_rate@k (any k) is below it alerts, whatever came
    # before (a slow drift that never drops by the threshold in one night). 0 = no floor.
    eval_min_hit_rate: float = Field(0.0, ge=0, le=1)
    eval_nightly_hour: int = Field(2, ge=0, le=23)
    eval_nightly_minute: int = Field(0, ge=0, le=59)
    # Tests and demos only: run beat's "evaluator-nightly" entry every N seconds instead of daily at
    # RAGTASKS_EVAL_NIGHTLY_HOUR:MINUTE (unset: daily). Each run is still a real nightly run.
    eval_nightly_interval_seconds: float | None = Field(None, gt=0)
    # Wall time one evaluate_batch task may spend before it saves its rows and hands the rest of
    # its batch to a fresh task; capped at half of RAGTASKS_TASK_SOFT_TIME_LIMIT_SECONDS, so one
    # more question (LLM call + retriever attempts) still ends well before the soft limit
    # (Settings.effective_eval_batch_time_budget_seconds).
    eval_batch_time_budget_seconds: float = Field(240.0, gt=0)
    # Retriever under evaluation: the RAG service's own endpoint (http) or a built-in one.
    retriever: Literal["http", "bm25", "vector"] = "bm25"
    retriever_url: BlankIsNone[str | None] = None
    retriever_auth_header: SecretStr | None = None  # "Name: value", or a bare value sent as Authorization
    retriever_top_k: int = Field(10, ge=1, le=1000)  # asked depth: max(this, largest k of the evaluation)
    retriever_ids_field: str = "ids"  # dotted path to the chunk ids in the JSON answer: "ids", "results.*.chunk_id"
    retriever_timeout_seconds: float = Field(10.0, gt=0)
    retriever_max_attempts: int = Field(3, ge=1, le=10)
    # Near-duplicate merging (MinHash Jaccard estimate over word 3-shingles).
    dedup_threshold: float = Field(0.9, gt=0, le=1)
    # Vector index: a Qdrant server if set, else embedded local mode (":memory:" or a directory).
    qdrant_url: BlankIsNone[str | None] = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: BlankIsNone[str | None] = None

    def retriever_problem(self) -> str | None:
        """Why the configured retriever cannot work, or None (checked by the gateway and the worker)."""
        if self.retriever == "http" and not self.retriever_url:
            return "RAGTASKS_RETRIEVER=http needs RAGTASKS_RETRIEVER_URL (the RAG service's retrieval endpoint)"
        return None
