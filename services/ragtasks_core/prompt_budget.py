"""Prompts that fit the model's window: count a chat prompt, shorten one text to a token budget.

Every count is the BPE of :mod:`ragtasks_core.tokens` (o200k_base), the same the gateway counts
messages with. A model's own tokenizer may count a little differently (Qwen's and DeepSeek's
count Chinese in fewer tokens, some older ones in more): callers keep a margin, and a server
that still refuses a prompt says so with a ``ContextLengthExceeded`` (``ragtasks_core.llm``).

Shortening is language-aware: it cuts by tokens (a Chinese character is about one token, not a
quarter) at character boundaries, keeps the head and the tail, and says in the text's own
language how much it left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .text import language_of
from .tokens import MESSAGE_OVERHEAD_TOKENS, count_tokens

# A chat completion's reply starts with a few tokens of its own (OpenAI's cookbook counts 3).
REPLY_PRIMING_TOKENS = 3
# Room kept free beyond the counted prompt and the reply: another tokenizer may count the same
# text a few percent higher than o200k_base.
SAFETY_MARGIN_RATIO = 0.05


def chat_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """Tokens of a chat prompt as sent: each message's content and role plus the chat format."""
    return REPLY_PRIMING_TOKENS + sum(
        MESSAGE_OVERHEAD_TOKENS + count_tokens(m["role"]) + count_tokens(m["content"]) for m in messages
    )


def prompt_limit(context_tokens: int, reply_tokens: int) -> int:
    """The most tokens a prompt may have: the window less the reply and the safety margin."""
    return max(0, int(context_tokens * (1 - SAFETY_MARGIN_RATIO)) - reply_tokens)


def omission_marker(chars: int, tokens: int, *, chinese: bool) -> str:
    """What stands where a shortened text's middle was: how much was left out."""
    if chinese:
        return f"\n[……此处省略 {chars} 字（约 {tokens} tokens）……]\n"
    return f"\n[... {chars} characters (~{tokens} tokens) left out here ...]\n"


def shorten(text: str, max_tokens: int) -> str:
    """``text`` itself if it fits ``max_tokens``, else its head and tail with a marker between.

    The result never exceeds ``max_tokens`` (a budget too small for a marker gets the head alone).
    """
    total = count_tokens(text)
    if total <= max_tokens:
        return text
    chinese = language_of(text) == "zh"
    room = max_tokens - count_tokens(omission_marker(len(text), total, chinese=chinese))
    if room < 2:
        return longest_prefix(text, max_tokens)
    while True:
        head = longest_prefix(text, room - room // 2)
        tail = longest_suffix(text[len(head) :], room // 2)
        left_out = text[len(head) : len(text) - len(tail)]
        result = head + omission_marker(len(left_out), count_tokens(left_out), chinese=chinese) + tail
        excess = count_tokens(result) - max_tokens
        if excess <= 0:
            return result
        room -= excess  # BPE merges across the joins differ a little: take the difference off


def longest_prefix(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` within ``max_tokens`` (cut between characters)."""
    return text[: _longest(text, max_tokens, lambda n: text[:n])]


def longest_suffix(text: str, max_tokens: int) -> str:
    """The longest suffix of ``text`` within ``max_tokens`` (cut between characters)."""
    n = _longest(text, max_tokens, lambda n: text[len(text) - n :])
    return text[len(text) - n :] if n else ""


def _longest(text: str, max_tokens: int, piece: Callable[[int], str]) -> int:
    """The largest n such that ``piece(n)`` (n characters of ``text``) fits ``max_tokens``."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens(piece(mid)) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return low
