"""Pure summarization logic: what to summarize, the prompt, and the offline summarizer.

No Celery, no Mongo, no prometheus here -- plain functions over plain data, unit-tested alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from ragtasks_core.tokens import count_tokens

EXTRACTIVE_MODEL = "extractive-local"


@dataclass(frozen=True)
class Message:
    seq: int
    role: str
    content: str
    tokens: int
    created_at: datetime | None = None


# A hole in the sequence older than this is a reservation whose insert failed for good (the
# append answered 5xx), not an append in flight: folding may step over it.
HOLE_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Plan:
    """Summarize ``messages`` (all with seq <= ``upto_seq``) into the rolling summary."""

    messages: list[Message]
    upto_seq: int
    tokens_covered: int


def plan_summary(
    after_watermark: list[Message], keep_recent: int, *, watermark: int | None = None, now: datetime | None = None
) -> Plan | None:
    """Choose what to fold into the summary: everything but the newest ``keep_recent`` messages.

    With ``watermark`` given, only the gap-free run ``watermark+1, watermark+2, ...`` is folded:
    the gateway reserves sequence numbers before it inserts the messages, so a concurrent append
    can leave a hole that is filled a moment later. Folding past the hole would move the
    watermark over messages that were never summarized. A hole whose next message is older than
    ``HOLE_GRACE`` (at ``now``) is permanent -- that append failed -- and is stepped over.

    Returns ``None`` when nothing would be folded (the newest messages stay verbatim).
    """
    ordered = sorted(after_watermark, key=lambda m: m.seq)
    fold = ordered[: max(0, len(ordered) - keep_recent)]
    if watermark is not None:
        contiguous = 0
        expected = watermark + 1
        for message in fold:
            if message.seq != expected and not _stale_hole(message, now):
                break
            contiguous += 1
            expected = message.seq + 1
        fold = fold[:contiguous]
    if not fold:
        return None
    return Plan(messages=fold, upto_seq=fold[-1].seq, tokens_covered=sum(m.tokens for m in fold))


def _stale_hole(after_hole: Message, now: datetime | None) -> bool:
    if now is None or after_hole.created_at is None:
        return False
    return now - after_hole.created_at > HOLE_GRACE


SYSTEM_PROMPT = (
    "You maintain the rolling summary of a conversation between a user and an assistant. "
    "Merge the previous summary with the new messages into one updated summary. Keep facts, "
    "names, numbers, decisions, open questions and the user's preferences; drop pleasantries. "
    "Write in the conversation's language. Answer with the summary text only."
)


def build_prompt(previous_summary: str | None, messages: list[Message], *, max_words: int) -> list[dict[str, str]]:
    transcript = "\n".join(f"[{m.seq}] {m.role}: {m.content}" for m in messages)
    user = (
        f"Previous summary:\n{previous_summary or '(none)'}\n\n"
        f"New messages:\n{transcript}\n\n"
        f"Write the updated summary in at most {max_words} words."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_SENTENCE_RE = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
_WORD_RE = re.compile(r"[\w]+", re.UNICODE)
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def _terms(text: str) -> list[str]:
    # Latin words, plus CJK characters one by one (Chinese has no spaces to split on).
    words = [w.lower() for w in _WORD_RE.findall(text) if not _CJK_RE.search(w)]
    return words + _CJK_RE.findall(text)


def extractive_budget(previous_summary: str | None, messages: list[Message], max_tokens: int) -> int:
    """A summary keeps about a third of what it folds (at least 64 tokens, at most ``max_tokens``)."""
    folded = sum(m.tokens for m in messages) + (count_tokens(previous_summary) if previous_summary else 0)
    return max(64, min(max_tokens, folded // 3))


def extractive_summary(previous_summary: str | None, messages: list[Message], *, max_tokens: int) -> str:
    """Offline summarizer: keep the highest-scoring sentences (term frequency), in order.

    No network and no model: it lets the whole system run, and be tested, without an LLM.
    """
    candidates: list[str] = []
    if previous_summary:
        candidates += [s.strip() for s in _SENTENCE_RE.split(previous_summary) if s.strip()]
    for m in messages:
        candidates += [f"{m.role}: {s.strip()}" for s in _SENTENCE_RE.split(m.content) if s.strip()]
    # A sentence said twice (a repeated question, a re-sent message) is kept once, first place.
    seen: set[str] = set()
    sentences: list[str] = []
    for sentence in candidates:
        key = _dedupe_key(sentence)
        if key not in seen:
            seen.add(key)
            sentences.append(sentence)
    if not sentences:
        return previous_summary or ""
    freq = Counter(t for s in sentences for t in _terms(s))

    def score(sentence: str) -> float:
        terms = _terms(sentence)
        return sum(freq[t] for t in terms) / (len(terms) ** 0.5) if terms else 0.0

    ranked = sorted(range(len(sentences)), key=lambda i: score(sentences[i]), reverse=True)
    chosen: list[int] = []
    budget = max_tokens
    for i in ranked:
        cost = count_tokens(sentences[i]) + 1
        if cost <= budget:
            chosen.append(i)
            budget -= cost
    if not chosen:  # one very long sentence: keep its beginning
        return sentences[ranked[0]][: max_tokens * 2]
    return "\n".join(sentences[i] for i in sorted(chosen))


def _dedupe_key(sentence: str) -> str:
    return " ".join(sentence.casefold().split())
