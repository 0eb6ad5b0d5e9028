"""The LLM boundary: one OpenAI-compatible client, one retry policy, errors sorted in two kinds.

The ``openai`` client's own retries are off (``max_retries=0``) so that a single policy -- the
task's countdown retries, with exponential backoff under a shared rate limit -- governs every
call. Callers get either a ``Completion`` or one of two exceptions: ``TransientLLMError`` (retry:
429, 5xx, timeouts, connection errors) or ``PermanentLLMError`` (fail now: 400/401/403/404...).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from . import metrics
from .settings import Settings

if TYPE_CHECKING:
    import openai

# ``openai`` is imported where it is used (~0.7 s of CPU): every worker loads this module, but only
# one that talks to an LLM needs the client. Such a worker imports it before its pool forks
# (:func:`warm_up`), so its children share it.


def warm_up() -> None:
    import openai  # noqa: F401


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int


class LLMError(Exception):
    """Base of LLM call failures; ``outcome`` is the metrics label."""

    outcome = "client_error"


class TransientLLMError(LLMError):
    # ``outcome`` has a default so the exception can be rebuilt from its message alone, which is
    # how Celery's JSON result backend restores it (``GET /v1/tasks/{id}`` shows its text).
    def __init__(self, message: str, *, outcome: str = "server_error", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retry_after = retry_after


class PermanentLLMError(LLMError):
    outcome = "client_error"


class ContextLengthExceeded(PermanentLLMError):
    """The server refused the prompt as longer than the model's window (a smaller real window
    than ``RAGTASKS_LLM_CONTEXT_TOKENS`` says): retrying the same prompt can never succeed."""


# How OpenAI-compatible servers say "the prompt is longer than the window" (the error's ``code``
# or its message): OpenAI and Azure (code context_length_exceeded, "maximum context length is"),
# vLLM and DeepSeek ("maximum context length is ... However, you requested", "longer than the
# maximum model length"), SGLang ("longer than the model's context length"), Ollama ("the input
# length exceeds the context length"), llama.cpp server (exceed_context_size_error, "exceeds the
# available context size"), Qwen/DashScope compatible mode ("Range of input length should be"),
# Volcano Engine ("Input length N exceeds the maximum length"), Hugging Face TGI (422, "`inputs`
# tokens + `max_new_tokens` must be <="), LM Studio ("the model is loaded with context length"),
# and vLLM's "max_tokens must be at least 1, got -N" when the prompt alone fills the window.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error", "string_above_max_length"})
_CONTEXT_MESSAGE = re.compile(
    r"maximum context length|context length exceeded|context_length_exceeded|exceeds? the (?:available )?context"
    r"|longer than the (?:maximum model length|model's context length)|range of input length should be"
    r"|input length \d+ exceeds the maximum length|tokens \+ `?max_new_tokens`? must be <="
    r"|loaded with context length|prompt is too long|maximum model length|max_tokens must be at least 1, got -",
    re.IGNORECASE,
)


def is_context_exceeded(status: int, code: object, message: str) -> bool:
    """Whether an error answer means "the prompt does not fit the model's window"."""
    if status < 400 or status == 429:
        return False
    return (isinstance(code, str) and code.lower() in _CONTEXT_CODES) or bool(_CONTEXT_MESSAGE.search(message))


def backoff_delay(retries_done: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff: base * 2**n (2 s, 4 s, 8 s, ... for base 2), capped.

    A server's ``Retry-After`` is honoured when it asks for longer than the schedule.
    """
    delay = min(cap, base * (2**retries_done))
    if retry_after is not None:
        delay = max(delay, min(cap, retry_after))
    return delay


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def classify(exc: Exception) -> LLMError:
    """Map an ``openai`` exception to a transient or permanent ``LLMError``."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return TransientLLMError(f"LLM timeout: {exc}", outcome="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return TransientLLMError(f"LLM connection error: {exc}", outcome="connection_error")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
        message = f"LLM HTTP {status}: {_short(exc)}"
        if is_context_exceeded(status, _error_code(exc), str(exc)):
            return ContextLengthExceeded(f"context_length_exceeded: {message}")
        if status == 429:
            return TransientLLMError(message, outcome="rate_limited", retry_after=retry_after)
        if status >= 500 or status == 408:
            return TransientLLMError(message, outcome="server_error", retry_after=retry_after)
        return PermanentLLMError(message)
    return PermanentLLMError(f"LLM call failed: {exc!r}")


def _error_code(exc: openai.APIStatusError) -> object:
    """The ``code`` of an OpenAI-style error body, wherever the server put it."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error")
        return (inner.get("code") if isinstance(inner, dict) else None) or body.get("code")
    return getattr(exc, "code", None)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


class LLMClient:
    """Chat completions through the real ``openai`` client, with metrics."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_base_url:
            raise ValueError("LLMClient needs RAGTASKS_LLM_BASE_URL")
        import openai

        api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused"
        self.model = settings.llm_model
        self._client = openai.OpenAI(
            base_url=settings.llm_base_url,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
        )
        metrics.init_llm_series(self.model)

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        json_mode: bool = False,
        temperature: float | None = None,
    ) -> Completion:
        """One completion; ``temperature`` None leaves the server's default (0: as repeatable as it gets)."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        import openai

        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            error = classify(exc)
            metrics.LLM_REQUESTS.labels(self.model, error.outcome).inc()
            if isinstance(error, ContextLengthExceeded):
                metrics.LLM_CONTEXT_EXCEEDED.labels(self.model).inc()
            raise error from exc
        finally:
            metrics.LLM_LATENCY.labels(self.model).observe(time.perf_counter() - started)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        if not text.strip():
            metrics.LLM_REQUESTS.labels(self.model, "server_error").inc()
            raise TransientLLMError("LLM returned an empty completion", outcome="server_error")
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        metrics.LLM_REQUESTS.labels(self.model, "success").inc()
        metrics.LLM_TOKENS.labels(self.model, "prompt").inc(prompt_tokens)
        metrics.LLM_TOKENS.labels(self.model, "completion").inc(completion_tokens)
        return Completion(text.strip(), response.model or self.model, prompt_tokens, completion_tokens)

    def close(self) -> None:
        self._client.close()


def embed(client: openai.OpenAI, model: str, texts: list[str]) -> list[list[float]]:
    """One ``/v1/embeddings`` call, classified and counted like a chat call.

    The client must have ``max_retries=0``: retries are the policy's (``llm_policy``: backoff in
    the broker, give up after ``RAGTASKS_LLM_MAX_RETRIES``), as for chat, not the client's own.
    """
    import openai

    started = time.perf_counter()
    try:
        response = client.embeddings.create(model=model, input=texts)
    except openai.OpenAIError as exc:
        error = classify(exc)
        metrics.LLM_REQUESTS.labels(model, error.outcome).inc()
        raise error from exc
    finally:
        metrics.LLM_LATENCY.labels(model).observe(time.perf_counter() - started)
    data = sorted(response.data, key=lambda d: d.index)
    if len(data) != len(texts):
        metrics.LLM_REQUESTS.labels(model, "server_error").inc()
        raise TransientLLMError(f"embeddings: {len(data)} vectors for {len(texts)} texts", outcome="server_error")
    metrics.LLM_REQUESTS.labels(model, "success").inc()
    metrics.LLM_TOKENS.labels(model, "prompt").inc(response.usage.prompt_tokens if response.usage else 0)
    return [[float(x) for x in item.embedding] for item in data]
