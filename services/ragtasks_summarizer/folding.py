"""Folds that fit the model's window: the oldest run of messages that fits one prompt.

A session can hold far more than one prompt can: 240k characters of chat, a 32k-character
message, a server whose real window is smaller than configured. Each fold *step* takes the
previous summary and the oldest messages after the watermark that fit, whole units only (a tool
result stays with the assistant message that called it, :func:`policy.units`); when even the
first unit does not fit, its messages go into the prompt shortened (head and tail, a marker
saying how much was left out). Stored messages are never changed: only the prompt is.

Every prompt is counted as sent (:func:`ragtasks_core.prompt_budget.chat_tokens`) and is never
above ``limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ragtasks_core.prompt_budget import chat_tokens, shorten
from ragtasks_core.tokens import count_tokens

from .logic import SYSTEM_PROMPT, Message, build_prompt, gap_free, transcript_line
from .policy import Policy, split_recent, units

# Below this many tokens a shortened message says nothing useful: a window that leaves less
# than this per message (after halving) is too small, and the step fails with that reason.
MIN_MESSAGE_TOKENS = 64
# The previous summary takes at most this share of a prompt; the rest is for the messages.
PREVIOUS_SUMMARY_SHARE = 0.5


class WindowTooSmall(ValueError):
    """The prompt limit leaves no useful room for even one (shortened) message."""


@dataclass(frozen=True)
class Step:
    """One fold: ``messages`` (as the prompt shows them) and the prompt itself."""

    previous: str | None
    messages: list[Message]
    upto_seq: int
    tokens_covered: int  # the stored counts of the folded messages (what the session sheds)
    prompt: list[dict[str, str]]
    prompt_tokens: int
    shortened: bool  # a message or the previous summary went in shortened


def foldable_run(policy: Policy, after_watermark: list[Message], watermark: int, now: datetime) -> list[Message]:
    """What may be folded: the gap-free run after the watermark, less what the policy keeps."""
    older, _ = split_recent(policy, sorted(after_watermark, key=lambda m: m.seq))
    return gap_free(older, watermark, now, policy.hole_grace)


def plan_step(
    previous: str | None,
    run: list[Message],
    *,
    limit: int,
    max_words: int,
    instruction: str = SYSTEM_PROMPT,
) -> Step | None:
    """The first fold step of ``run`` (oldest first) within ``limit`` prompt tokens; None if empty."""
    if not run:
        return None
    in_prompt = _previous_within(previous, limit, max_words, instruction)
    base = chat_tokens(build_prompt(in_prompt, [], max_words=max_words, instruction=instruction))
    room = limit - base
    chosen = _whole_units(units(run), room)
    shortened = in_prompt != previous
    if not chosen:
        chosen, shortened = _shortened_unit(units(run)[0], room), True
    while True:
        prompt = build_prompt(in_prompt, chosen, max_words=max_words, instruction=instruction)
        used = chat_tokens(prompt)
        if used <= limit:
            break
        # Joins merge BPE tokens a little differently than the parts counted alone.
        chosen, shortened = _smaller(chosen, used - limit, run), True
    originals = run[: len(chosen)]
    return Step(
        previous=in_prompt,
        messages=chosen,
        upto_seq=chosen[-1].seq,
        tokens_covered=sum(m.tokens for m in originals),
        prompt=prompt,
        prompt_tokens=used,
        shortened=shortened,
    )


def _previous_within(previous: str | None, limit: int, max_words: int, instruction: str) -> str | None:
    if not previous:
        return previous
    fixed = chat_tokens(build_prompt("", [], max_words=max_words, instruction=instruction))
    cap = int(limit * PREVIOUS_SUMMARY_SHARE) - fixed
    if cap < MIN_MESSAGE_TOKENS:
        raise WindowTooSmall(f"a prompt limit of {limit} tokens leaves no room for the previous summary")
    return shorten(previous, cap)


def _line_cost(message: Message) -> int:
    return count_tokens(transcript_line(message)) + 1  # and the newline that joins it


def _whole_units(all_units: list[list[Message]], room: int) -> list[Message]:
    """The oldest whole units whose transcript lines fit ``room`` tokens."""
    chosen: list[Message] = []
    for unit in all_units:
        cost = sum(_line_cost(m) for m in unit)
        if cost > room:
            break
        chosen.extend(unit)
        room -= cost
    return chosen


def _shortened_unit(unit: list[Message], room: int) -> list[Message]:
    """One unit too large for the prompt, each message shortened to an equal share of ``room``."""
    share = room // len(unit)
    out = []
    for message in unit:
        header = count_tokens(transcript_line(replace(message, content=""))) + 1
        budget = share - header
        if budget < MIN_MESSAGE_TOKENS:
            raise WindowTooSmall(
                f"a prompt of {room} tokens for messages leaves {max(budget, 0)} for message {message.seq}"
            )
        out.append(replace(message, content=shorten(message.content, budget)))
    return out


def _smaller(chosen: list[Message], excess: int, run: list[Message]) -> list[Message]:
    """``chosen`` with ``excess`` tokens less: its last unit dropped, or (one unit left) cut."""
    chosen_units = units(chosen)
    if len(chosen_units) > 1:
        return [m for unit in chosen_units[:-1] for m in unit]
    [unit] = chosen_units
    longest = max(range(len(unit)), key=lambda i: count_tokens(unit[i].content))
    target = count_tokens(unit[longest].content) - excess
    if target < MIN_MESSAGE_TOKENS:
        raise WindowTooSmall(f"no room for message {unit[longest].seq} within the prompt limit")
    original = next(m for m in run if m.seq == unit[longest].seq)
    unit[longest] = replace(unit[longest], content=shorten(original.content, target))
    return unit
