"""One rolling-summary step for one session: plan, write (LLM or offline), commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.database import Database

from ragtasks_core.documents import summaries

from . import store
from .logic import EXTRACTIVE_MODEL, Message, build_prompt, extractive_budget, extractive_summary, plan_summary

# (previous summary, messages) -> (summary text, model name)
Writer = Callable[[str | None, list[Message]], tuple[str, str]]


@dataclass(frozen=True)
class Outcome:
    status: str  # committed | superseded | nothing_to_do | no_session
    session_id: str
    upto_seq: int | None = None
    model: str | None = None

    def as_result(self) -> dict[str, object]:
        return {"status": self.status, "session_id": self.session_id, "upto_seq": self.upto_seq, "model": self.model}


def summarize(db: Database, session_id: str, *, writer: Writer, keep_recent: int) -> Outcome:
    """Fold everything after the watermark, except the newest ``keep_recent`` messages.

    Idempotent: a rerun finds the summary already recorded for the same range and only
    (re)tries the compare-and-set; a failed ``writer`` call changes nothing.
    """
    state = store.load_session(db, session_id)
    if state is None:
        return Outcome("no_session", session_id)
    plan = plan_summary(
        store.messages_after(db, session_id, state.upto_seq),
        keep_recent,
        watermark=state.upto_seq,
        now=datetime.now(UTC),
    )
    if plan is None:
        return Outcome("nothing_to_do", session_id, state.upto_seq)
    recorded = store.find_recorded(db, session_id, state.upto_seq, plan.upto_seq)
    if recorded is None:
        text, model = writer(state.summary, plan.messages)
        recorded = store.record_summary(
            db,
            summaries.new_summary(
                session_id, state.upto_seq, plan.upto_seq, summary=text, model=model, tokens_covered=plan.tokens_covered
            ),
        )
    committed = store.commit(
        db,
        session_id=session_id,
        from_seq=state.upto_seq,
        upto_seq=plan.upto_seq,
        summary=recorded["summary"],
        model=recorded["model"],
        tokens_covered=plan.tokens_covered,
    )
    return Outcome("committed" if committed else "superseded", session_id, plan.upto_seq, recorded["model"])


def extractive_writer(max_tokens: int) -> Writer:
    def write(previous: str | None, messages: list[Message]) -> tuple[str, str]:
        budget = extractive_budget(previous, messages, max_tokens)
        return extractive_summary(previous, messages, max_tokens=budget), EXTRACTIVE_MODEL

    return write


def llm_writer(chat: Callable[[list[dict[str, str]], int], tuple[str, str]], max_tokens: int) -> Writer:
    """A writer that asks an LLM; ``chat(messages, max_tokens) -> (text, model)``."""

    def write(previous: str | None, messages: list[Message]) -> tuple[str, str]:
        return chat(build_prompt(previous, messages, max_words=max(50, max_tokens * 3 // 4)), max_tokens)

    return write
