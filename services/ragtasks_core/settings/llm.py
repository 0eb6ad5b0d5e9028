"""The models ragtasks calls: the chat LLM (OpenAI-compatible) and the embeddings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from .transforms import BlankIsNone, Rate, parse_rate


class LlmSettings(BaseModel):
    # LLM (OpenAI-compatible). No base URL means the offline extractive summarizer.
    llm_base_url: BlankIsNone[str | None] = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_rate_limit: Rate = "10/m"
    llm_max_retries: int = Field(5, ge=0, le=20)
    llm_backoff_base_seconds: float = Field(2.0, gt=0)
    llm_backoff_max_seconds: float = Field(600.0, gt=0)
    # A task waits in-process for a rate-limiter slot at most this long, then re-queues itself
    # with a countdown (which does not count as a retry).
    llm_rate_limit_max_wait_seconds: float = Field(30.0, ge=0)
    # The model's context window in tokens (counted with the same BPE as everything else): no
    # prompt the summarizer or the evaluator builds exceeds it, with room left for the reply
    # (RAGTASKS_SUMMARY_MAX_TOKENS) and the instructions. A server that still answers 400
    # context_length_exceeded makes the summarizer halve its fold (the real window is smaller).
    llm_context_tokens: int = Field(16_000, ge=1024, le=10_000_000)

    # Embeddings: an OpenAI-compatible endpoint if set, else the offline default.
    embeddings_base_url: BlankIsNone[str | None] = None
    embeddings_api_key: SecretStr | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_offline: Literal["hashing", "minilm"] = "hashing"
    embeddings_dimension: int = Field(384, ge=8, le=4096)  # of the hashing embedder

    @property
    def llm_rate(self) -> tuple[float, float]:
        return parse_rate(self.llm_rate_limit)
