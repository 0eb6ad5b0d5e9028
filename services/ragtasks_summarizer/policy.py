"""When to summarize and what to keep verbatim: the summary policy, as plain functions.

- **Trigger**: by tokens since the last summary (``RAGTASKS_SUMMARY_TRIGGER_TOKENS``) or, when
  set, by messages since the last summary (``RAGTASKS_SUMMARY_TRIGGER_MESSAGES``): whichever
  comes first.
- **Keep recent**: the newest ``RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES`` messages, or, when
  ``RAGTASKS_SUMMARY_KEEP_RECENT_TOKENS`` is set, the newest messages within that many tokens.
- **Tool pairs**: a tool result (``role: "tool"``) is never separated from the assistant
  message that called it: the two are one *unit*, folded or kept together.
- **Instruction**: ``RAGTASKS_SUMMARY_PROMPT_FILE`` replaces the built-in instruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ragtasks_core.session_context import HOLE_GRACE

from .logic import SYSTEM_PROMPT, Message

TOOL_ROLE = "tool"
# An instruction longer than this would crowd the conversation out of the window.
MAX_INSTRUCTION_CHARS = 8_000


@dataclass(frozen=True)
class Policy:
    trigger_tokens: int
    trigger_messages: int | None = None
    keep_recent_messages: int = 6
    keep_recent_tokens: int | None = None
    instruction: str = SYSTEM_PROMPT
    hole_grace: timedelta = HOLE_GRACE  # RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS


def should_trigger(policy: Policy, *, tokens_since: int, messages_since: int) -> bool:
    """Whether a session this far past its last summary wants the next one."""
    if tokens_since >= policy.trigger_tokens:
        return True
    return policy.trigger_messages is not None and messages_since >= policy.trigger_messages


def units(messages: list[Message]) -> list[list[Message]]:
    """``messages`` (in order) cut into units: a message and the tool results that follow it."""
    cut: list[list[Message]] = []
    for message in messages:
        if message.role == TOOL_ROLE and cut:
            cut[-1].append(message)
        else:
            cut.append([message])
    return cut


def split_recent(policy: Policy, messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """(older, kept verbatim): the newest messages the policy keeps, never splitting a unit.

    By count, a cut inside a unit moves earlier (the whole unit is kept); by tokens, a unit that
    does not fit entirely is folded.
    """
    kept_units: list[list[Message]] = []
    if policy.keep_recent_tokens is not None:
        room = policy.keep_recent_tokens
        for unit in reversed(units(messages)):
            cost = sum(m.tokens for m in unit)
            if cost > room:
                break
            kept_units.append(unit)
            room -= cost
    else:
        count = 0
        for unit in reversed(units(messages)):
            if count >= policy.keep_recent_messages:
                break
            kept_units.append(unit)
            count += len(unit)
    kept = [m for unit in reversed(kept_units) for m in unit]
    return messages[: len(messages) - len(kept)], kept


def load_instruction(path: str | None) -> str:
    """The instruction (system prompt) of every summary: the file's text, or the built-in one.

    Raises ``ValueError`` with a readable reason for a file that is missing, unreadable, not
    UTF-8, empty or too long; ``ragtasks worker summarizer`` calls it before it starts, so a bad
    file stops the worker rather than failing every summary.
    """
    if not path:
        return SYSTEM_PROMPT
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"RAGTASKS_SUMMARY_PROMPT_FILE {path!r} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"RAGTASKS_SUMMARY_PROMPT_FILE {path!r} is not UTF-8 text") from exc
    if not text:
        raise ValueError(f"RAGTASKS_SUMMARY_PROMPT_FILE {path!r} is empty")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise ValueError(
            f"RAGTASKS_SUMMARY_PROMPT_FILE {path!r} has {len(text)} characters; at most {MAX_INSTRUCTION_CHARS}"
        )
    return text
