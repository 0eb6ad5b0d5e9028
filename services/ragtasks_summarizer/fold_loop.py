"""A summary task's work: fold step after step, each committed, while the session is past its
threshold and time allows.

Each step reads the session afresh (its watermark and previous summary), plans the oldest run
that fits the prompt limit (:func:`folding.plan_step`), writes the summary once under its
idempotency key and moves the watermark by compare-and-set -- exactly one step of today's
single fold, so a worker killed between steps resumes from the last commit, and a redelivered
task re-uses a summary already written for the same range.

A server that refuses a prompt as too long (``ContextLengthExceeded``) has a smaller window than
configured: the step is planned again with half the limit, and again, until a prompt is
accepted or halving can no longer shrink it -- then the task fails with that reason
(:class:`FoldRefused`). The smaller limit stays for the rest of the task.

A session deleted while a step runs gets nothing written: the commit finds no session, and the
summary recorded for that step is removed again.

Round trips (issue 17): the commit's reply is the session as it left it, so the next step and
the threshold check need no read of their own; the step that will be the last (below the
threshold after it, or past the deadline) frees the task's pending slot in the same update; and
a first delivery asks the writer straight away -- only a task that may have run before (a
redelivery or a retry) first looks for a summary already recorded for its range. Skipping that
look-up never writes a second summary: the unique index refuses it and the recorded one is used
(:func:`store.record_summary`); it only spares an LLM call on a redelivery.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry.trace import Span
from pymongo.database import Database

from ragtasks_core import tracing
from ragtasks_core.documents import summaries
from ragtasks_core.llm import ContextLengthExceeded, PermanentLLMError
from ragtasks_core.tokens import count_tokens

from . import history, store
from .folding import Step, WindowTooSmall, foldable_run, plan_step
from .logic import SYSTEM_PROMPT, Message
from .policy import Policy, should_trigger

# A step's writer: the prompt (and what it shows) -> (summary text, model name).
StepWriter = Callable[[Step], tuple[str, str]]


class FoldRefused(PermanentLLMError):
    """The model refused even the smallest fold as longer than its window."""


@dataclass(frozen=True)
class FoldConfig:
    policy: Policy
    prompt_limit: int  # tokens, after the reply and the margin (prompt_budget.prompt_limit)
    max_words: int
    deadline: float | None = None  # time.monotonic() after which no further step starts
    # The task may have run before (redelivered, or a retry): look for a summary already
    # recorded for a range before asking the writer. False only on a known first delivery.
    may_have_run: bool = True

    @property
    def instruction(self) -> str:
        return self.policy.instruction or SYSTEM_PROMPT


@dataclass(frozen=True)
class FoldOutcome:
    status: str  # committed | superseded | nothing_to_do | no_session
    session_id: str
    upto_seq: int | None = None
    model: str | None = None
    steps: int = 0  # steps committed by this task
    more: bool = False  # stopped at the deadline with more to fold
    halvings: int = 0  # prompts refused as too long, each followed by a halved limit
    released: bool = False  # the last commit also freed the task's pending slot ...
    after: store.SessionState | None = None  # ... and left the session so

    def as_result(self) -> dict[str, object]:
        # The task result's shape since the first release: how many steps is in the metrics.
        return {"status": self.status, "session_id": self.session_id, "upto_seq": self.upto_seq, "model": self.model}


@dataclass
class _Progress:
    limit: int
    steps: int = 0
    halvings: int = 0
    model: str | None = None
    upto_seq: int | None = None
    released: bool = False
    after: store.SessionState | None = None


def fold_session(
    db: Database,
    session_id: str,
    *,
    write: StepWriter,
    config: FoldConfig,
    clock: Callable[[], float] = time.monotonic,
    slot: str | None = None,
) -> FoldOutcome:
    """Fold one step, then more while the session is still past its threshold (the policy's
    trigger), until nothing is left to fold or the deadline passes (see the module doc).
    ``slot``: the task id whose pending slot the last step's commit may free (None: never).

    Idempotent step by step: the watermark moves only by compare-and-set and each range is
    recorded once, so a rerun after a crash continues where the last commit left off.
    """
    progress = _Progress(config.prompt_limit)
    state = store.load_session(db, session_id)
    while True:
        if state is None:
            return _ended("no_session", session_id, progress)
        progress.upto_seq = state.upto_seq
        heads, run = _read(db, state, config, progress.limit)
        step = _plan(state.summary, run, config, progress.limit)
        if step is None:
            return _ended("committed" if progress.steps else "nothing_to_do", session_id, progress)
        last = not _still_past(config.policy, state, step) or _out_of_time(config, clock)
        status = _one_step(db, session_id, state, run, step, write, config, progress, slot if last else None)
        if status != "committed":
            return _ended(status, session_id, progress)
        state = progress.after
        assert state is not None  # set by a committed step
        past = _past(config.policy, state)
        if progress.released or not past:
            # The slot is free (new appends claim for themselves) or nothing is left to want.
            more = past and _out_of_time(config, clock) and len(heads) > len(step.messages)
            return _ended("committed", session_id, progress, more=more)
        if _out_of_time(config, clock):
            return _ended("committed", session_id, progress, more=len(heads) > len(step.messages))


def _read(
    db: Database, state: store.SessionState, config: FoldConfig, limit: int
) -> tuple[list[Message], list[Message]]:
    """(the foldable run after the watermark, heads at least; the start of it one step can use,
    contents read): one query for a session read whole, two otherwise (:mod:`history`)."""
    whole = history.read_whole(state.tokens_since, limit)
    after = history.heads_after(db, state.session_id, state.upto_seq, contents=whole)
    heads = foldable_run(config.policy, after, state.upto_seq, datetime.now(UTC))
    if whole:
        return heads, history.step_share(heads, limit)
    return heads, history.with_contents(db, state.session_id, heads, limit)


def _past(policy: Policy, state: store.SessionState) -> bool:
    """Whether the session, as the last commit left it, still wants a summary (the next step)."""
    return should_trigger(policy, tokens_since=state.tokens_since, messages_since=state.messages_since)


def _still_past(policy: Policy, state: store.SessionState, step: Step) -> bool:
    """Whether the session will still want a summary after ``step`` commits, from what was read:
    only appends meanwhile can change it, and they only add (seen in the commit's reply)."""
    return should_trigger(
        policy,
        tokens_since=state.tokens_since - step.tokens_covered,
        messages_since=state.last_seq - step.upto_seq,
    )


def _out_of_time(config: FoldConfig, clock: Callable[[], float]) -> bool:
    return config.deadline is not None and clock() >= config.deadline


def _plan(previous: str | None, run: list[Message], config: FoldConfig, limit: int) -> Step | None:
    try:
        return plan_step(previous, run, limit=limit, max_words=config.max_words, instruction=config.instruction)
    except WindowTooSmall as exc:
        raise FoldRefused(f"context_length_exceeded: {exc}") from exc


def _one_step(
    db: Database,
    session_id: str,
    state: store.SessionState,
    run: list[Message],
    step: Step,
    write: StepWriter,
    config: FoldConfig,
    progress: _Progress,
    release_for: str | None,
) -> str:
    """Write (or re-use) one step's summary and commit it: committed | superseded | no_session."""
    attributes: dict[str, str | int] = {
        "ragtasks.session_id": session_id,
        "ragtasks.summary.from_seq": state.upto_seq,
        "ragtasks.summary.upto_seq": step.upto_seq,
        "ragtasks.summary.messages": len(run),
        "ragtasks.summary.tokens_in": step.tokens_covered,
    }
    # One span per fold step (docs/tracing.md): the range and tokens in/out, never the text.
    with tracing.span("ragtasks.summary.fold", attributes) as span:
        from_seq = state.upto_seq
        recorded = _recorded(db, session_id, from_seq, step.upto_seq, config)
        while recorded is None:
            try:
                text, model = write(step)
            except ContextLengthExceeded as exc:
                step = _halved(step, exc, state.summary, run, config, progress)
                recorded = _recorded(db, session_id, from_seq, step.upto_seq, config)
                continue
            recorded = store.record_summary(
                db,
                summaries.new_summary(
                    session_id, from_seq, step.upto_seq, summary=text, model=model, tokens_covered=step.tokens_covered
                ),
            )
        committed = store.commit(
            db,
            session_id=session_id,
            from_seq=from_seq,
            upto_seq=step.upto_seq,
            summary=recorded["summary"],
            model=recorded["model"],
            tokens_covered=step.tokens_covered,
            release_for=release_for,
        )
        _fold_attributes(span, recorded, committed is not None)
        if committed is None:
            if store.load_session(db, session_id) is None:
                # Deleted while this step ran: what it recorded must not outlive the session.
                db[summaries.COLLECTION].delete_one(summaries.key(session_id, from_seq, step.upto_seq))
                return "no_session"
            return "superseded"
        progress.steps += 1
        progress.model = recorded["model"]
        progress.upto_seq = step.upto_seq
        progress.released, progress.after = committed.released, committed.after
        return "committed"


def _recorded(db: Database, session_id: str, from_seq: int, upto_seq: int, config: FoldConfig) -> dict[str, Any] | None:
    """The summary a previous run of this task recorded for the range, if it may have run."""
    return store.find_recorded(db, session_id, from_seq, upto_seq) if config.may_have_run else None


def _fold_attributes(span: Span, recorded: dict[str, Any], committed: bool) -> None:
    if span.is_recording():  # counting the summary's tokens is work: only for a sampled span
        span.set_attribute("ragtasks.summary.upto_seq", int(recorded["upto_seq"]))
        span.set_attribute("ragtasks.summary.tokens_out", count_tokens(recorded["summary"]))
        span.set_attribute("ragtasks.summary.model", str(recorded["model"]))
        span.set_attribute("ragtasks.summary.outcome", "committed" if committed else "superseded")


def _halved(
    refused: Step,
    exc: ContextLengthExceeded,
    previous: str | None,
    run: list[Message],
    config: FoldConfig,
    progress: _Progress,
) -> Step:
    """The step planned again within half the limit; FoldRefused when that cannot shrink it."""
    progress.halvings += 1
    progress.limit //= 2
    smaller = _plan(previous, run, config, progress.limit)
    if smaller is None or smaller.prompt_tokens >= refused.prompt_tokens:
        raise FoldRefused(
            f"context_length_exceeded: the model refused a prompt of {refused.prompt_tokens} tokens "
            f"({len(refused.messages)} message(s)) and it cannot be made smaller: {exc}"
        ) from exc
    return smaller


def _ended(status: str, session_id: str, progress: _Progress, *, more: bool = False) -> FoldOutcome:
    return FoldOutcome(
        status,
        session_id,
        upto_seq=progress.upto_seq,
        model=progress.model,
        steps=progress.steps,
        more=more,
        halvings=progress.halvings,
        released=progress.released,
        after=progress.after,
    )
