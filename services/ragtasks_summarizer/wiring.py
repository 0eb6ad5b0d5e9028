"""From settings and the process's runtime to what a summary task runs: policy, budget, writer."""

from __future__ import annotations

import time
from collections.abc import Callable

from ragtasks_core.llm import Completion
from ragtasks_core.prompt_budget import prompt_limit
from ragtasks_core.settings import Settings

from .fold_loop import FoldConfig, StepWriter
from .folding import Step
from .logic import EXTRACTIVE_MODEL, extractive_budget, extractive_summary
from .policy import Policy, load_instruction

# A fold step is one LLM call; a new step starts only while the time the task has left under
# its soft limit still covers one more call (its timeout and a rate-limiter wait) with this much
# to spare. Otherwise the task commits what it has and re-queues itself.
STEP_MARGIN_SECONDS = 10.0


def policy_of(settings: Settings) -> Policy:
    return Policy(
        trigger_tokens=settings.summary_trigger_tokens,
        trigger_messages=settings.summary_trigger_messages,
        keep_recent_messages=settings.summary_keep_recent_messages,
        keep_recent_tokens=settings.summary_keep_recent_tokens,
        instruction=load_instruction(settings.summary_prompt_file),
        hole_grace=settings.summary_hole_grace,
    )


def max_words(settings: Settings) -> int:
    return max(50, settings.summary_max_tokens * 3 // 4)


def step_deadline(settings: Settings, started: float) -> float:
    """When the last step may start: early enough that it ends before the soft time limit.

    At most half the soft limit, like the evaluator's batches: a slow model leaves room to spare.
    """
    per_step = settings.llm_timeout_seconds + settings.llm_rate_limit_max_wait_seconds + STEP_MARGIN_SECONDS
    soft = settings.task_soft_time_limit_seconds
    return started + max(0.0, min(soft / 2, soft - per_step))


def fold_config(settings: Settings, *, started: float | None = None, may_have_run: bool = True) -> FoldConfig:
    return FoldConfig(
        policy=policy_of(settings),
        prompt_limit=prompt_limit(settings.llm_context_tokens, settings.summary_max_tokens),
        max_words=max_words(settings),
        deadline=step_deadline(settings, time.monotonic() if started is None else started),
        may_have_run=may_have_run,
    )


def llm_step_writer(chat: Callable[[list[dict[str, str]], int], Completion], max_tokens: int) -> StepWriter:
    """Send the step's prompt, exactly as planned and counted."""

    def write(step: Step) -> tuple[str, str]:
        completion = chat(step.prompt, max_tokens)
        return completion.text, completion.model

    return write


def extractive_step_writer(max_tokens: int) -> StepWriter:
    """The offline summarizer over what the step shows (shortened messages included)."""

    def write(step: Step) -> tuple[str, str]:
        budget = extractive_budget(step.previous, step.messages, max_tokens)
        return extractive_summary(step.previous, step.messages, max_tokens=budget), EXTRACTIVE_MODEL

    return write
