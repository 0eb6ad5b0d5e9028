"""The one policy every LLM-calling task follows: shared rate limit, backoff, give up.

- Before each call a slot is taken from the Redis rate limiter shared by all replicas. If none
  comes within ``llm_rate_limit_max_wait_seconds`` the task is re-queued with a countdown for
  when one will be free: ``LLMDeferred``, which does *not* count as a retry.
- 429 / 5xx / timeouts / connection errors: retry after 2 s, 4 s, 8 s, 16 s, 32 s (base and
  count are settings), or the server's ``Retry-After`` if longer; after the last retry the task
  fails with the reason. The failure count lives in Redis per task id, because Celery's
  ``request.retries`` also counts rate-limit deferrals.
- 400 / 401 / 403 / 404: fail at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .llm import Completion, TransientLLMError
from .runtime import Runtime

FAILURE_COUNT_TTL_SECONDS = 86_400


class LLMDeferred(Exception):
    """No rate-limiter slot soon enough: re-queue after ``delay`` seconds (not a retry)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"rate limited for {delay:.1f}s")
        self.delay = delay


class LLMGaveUp(Exception):
    """The LLM kept failing transiently through every retry."""


def broker_countdown(delay: float) -> int:
    """A retry countdown in whole seconds, rounded *up*, at least 1.

    Celery's native delayed delivery routes a countdown through the broker's delay queues as
    ``int(countdown)`` seconds: a fraction would be truncated (and then held unacked in the
    worker until the ETA), and a countdown below 1 s raises ``ValueError`` inside ``retry``.
    """
    return max(1, math.ceil(delay))


def take_slot(rt: Runtime) -> None:
    """Take a slot of the shared LLM limiter, or raise ``LLMDeferred`` (chat and embeddings alike)."""
    if rt.llm_limiter.acquire(rt.settings.llm_rate_limit_max_wait_seconds) is None:
        raise LLMDeferred(max(1.0, rt.llm_limiter.seconds_until_free()))


def limited_chat(rt: Runtime) -> Callable[[list[dict[str, str]], int], Completion]:
    """A chat function that first takes a slot from the shared limiter."""
    if rt.llm is None:
        raise RuntimeError("no LLM configured")
    llm = rt.llm

    def chat(
        messages: list[dict[str, str]], max_tokens: int, *, json_mode: bool = False, temperature: float | None = None
    ) -> Completion:
        take_slot(rt)
        return llm.chat(messages, max_tokens=max_tokens, json_mode=json_mode, temperature=temperature)

    return chat


def next_retry_delay(rt: Runtime, task_id: str, exc: TransientLLMError) -> float:
    """Count this failure; return the backoff before the next try, or raise ``LLMGaveUp``."""
    from .llm import backoff_delay

    key = f"{rt.settings.key_prefix}:llm_failures:{task_id}"
    failures = int(rt.redis.incr(key))
    rt.redis.expire(key, FAILURE_COUNT_TTL_SECONDS)
    if failures > rt.settings.llm_max_retries:
        raise LLMGaveUp(f"{exc} (gave up after {rt.settings.llm_max_retries} retries)") from exc
    return backoff_delay(
        failures - 1,
        base=rt.settings.llm_backoff_base_seconds,
        cap=rt.settings.llm_backoff_max_seconds,
        retry_after=exc.retry_after,
    )


def forget_failures(rt: Runtime, task_id: str) -> None:
    rt.redis.delete(f"{rt.settings.key_prefix}:llm_failures:{task_id}")
