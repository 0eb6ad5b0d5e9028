"""Pure summarization logic: what to summarize, the prompt, and the offline summarizer.

No Celery, no Mongo, no prometheus here -- plain functions over plain data, unit-tested alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from ragtasks_core.session_context import HOLE_GRACE as HOLE_GRACE
from ragtasks_core.session_context import gap_free_count
from ragtasks_core.text.analyzer import normalize, split_sentences, tokenize
from ragtasks_core.tokens import count_tokens

EXTRACTIVE_MODEL = "extractive-local"


@dataclass(frozen=True)
class Message:
    seq: int
    role: str
    content: str
    tokens: int
    created_at: datetime | None = None


# A hole in the sequence older than HOLE_GRACE is a reservation whose insert failed for good (the
# append answered 5xx), not an append in flight: folding may step over it (ragtasks_core.session_context).


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
        fold = gap_free(fold, watermark, now)
    if not fold:
        return None
    return Plan(messages=fold, upto_seq=fold[-1].seq, tokens_covered=sum(m.tokens for m in fold))


def gap_free(
    ordered: list[Message], watermark: int, now: datetime | None, grace: timedelta = HOLE_GRACE
) -> list[Message]:
    """The run ``watermark+1, watermark+2, ...`` at the start of ``ordered`` (stepping over
    holes older than ``grace``, see :func:`plan_summary`)."""
    return ordered[: gap_free_count([(m.seq, m.created_at) for m in ordered], watermark, now, grace)]


SYSTEM_PROMPT = (
    "You maintain the rolling summary of a conversation between a user and an assistant. "
    "Merge the previous summary with the new messages into one updated summary. Keep facts, "
    "names, numbers, decisions, open questions and the user's preferences; drop pleasantries. "
    "Write in the conversation's language. Answer with the summary text only."
)


def transcript_line(message: Message) -> str:
    """One message as the prompt's transcript shows it."""
    return f"[{message.seq}] {message.role}: {message.content}"


def build_prompt(
    previous_summary: str | None, messages: list[Message], *, max_words: int, instruction: str = SYSTEM_PROMPT
) -> list[dict[str, str]]:
    transcript = "\n".join(transcript_line(m) for m in messages)
    user = (
        f"Previous summary:\n{previous_summary or '(none)'}\n\n"
        f"New messages:\n{transcript}\n\n"
        f"Write the updated summary in at most {max_words} words."
    )
    return [{"role": "system", "content": instruction}, {"role": "user", "content": user}]


# The summary's own lines start with the speaker ("user: ..."): not a word to score.
_ROLE_PREFIX = re.compile(r"^(?:user|assistant|system|tool): ")


def _sentences(text: str) -> list[str]:
    """Sentences of a message or of the previous summary (one summary line per sentence).

    Lines first (a chat message's list items, the summary's own lines), then the analyzer's
    sentence split, which ends a Chinese sentence at 。！？； whether or not a space follows.
    """
    return [sentence for line in text.splitlines() for sentence in split_sentences(line)]


def extractive_budget(previous_summary: str | None, messages: list[Message], max_tokens: int) -> int:
    """A summary keeps about a third of what it folds (at least 64 tokens, at most ``max_tokens``)."""
    folded = sum(m.tokens for m in messages) + (count_tokens(previous_summary) if previous_summary else 0)
    return max(64, min(max_tokens, folded // 3))


def extractive_summary(previous_summary: str | None, messages: list[Message], *, max_tokens: int) -> str:
    """Offline summarizer: keep the highest-scoring sentences (term frequency), in order.

    No network and no model: it lets the whole system run, and be tested, without an LLM.
    The previous summary keeps up to half of ``max_tokens``, from its first line on: scored
    against the new messages' words, its lines lose to whatever the conversation turned to, and
    what it established first (the problem, an order number, the request) would be gone after
    one fold. So a rolling summary rolls forward; the old part shrinks by at most half per fold,
    keeping the conversation's opening longest.
    """
    sentences = _unique_sentences(previous_summary, messages)
    if not sentences:
        return previous_summary or ""
    # The analyzer's words (Chinese segmented, stopwords dropped), not the role prefix.
    terms = [tokenize(content) for _, content, _ in sentences]
    freq = Counter(t for sentence_terms in terms for t in sentence_terms)
    # A word with a digit (an order number, a model, an amount, a date) is said once and matters
    # most: it weighs as much as the most frequent word, or frequency alone would drop it first.
    top = max(freq.values(), default=0)
    weight = {t: top if any(c.isdigit() for c in t) else n for t, n in freq.items()}

    def score(i: int) -> float:
        return sum(weight[t] for t in terms[i]) / (len(terms[i]) ** 0.5) if terms[i] else 0.0

    ranked = sorted(range(len(sentences)), key=score, reverse=True)
    costs = [count_tokens(line) + 1 for line, _, _ in sentences]
    carried = _fill([i for i, sentence in enumerate(sentences) if sentence[2]], costs, max_tokens // 2)
    left, taken = max_tokens - sum(costs[i] for i in carried), set(carried)
    chosen = carried + _fill([i for i in ranked if i not in taken], costs, left)
    if not chosen:  # one very long sentence: keep its beginning
        return _truncate(sentences[ranked[0]][0], max_tokens)
    return "\n".join(sentences[i][0] for i in sorted(chosen))


def _fill(candidates: list[int], costs: list[int], budget: int) -> list[int]:
    """The candidates, best first, that fit in ``budget`` (a long one skipped, shorter ones still taken)."""
    chosen = []
    for i in candidates:
        if costs[i] <= budget:
            chosen.append(i)
            budget -= costs[i]
    return chosen


def _unique_sentences(previous_summary: str | None, messages: list[Message]) -> list[tuple[str, str, bool]]:
    """(summary line, its content, from the previous summary) of every sentence; one said twice
    is kept once, first place."""
    candidates = [(s, _ROLE_PREFIX.sub("", s), True) for s in _sentences(previous_summary or "")]
    candidates += [(f"{m.role}: {s}", s, False) for m in messages for s in _sentences(m.content)]
    seen: set[str] = set()
    sentences: list[tuple[str, str, bool]] = []
    for line, content, previous in candidates:
        key = _dedupe_key(line)
        if key not in seen:
            seen.add(key)
            sentences.append((line, content, previous))
    return sentences


def _dedupe_key(sentence: str) -> str:
    # normalize(): case, whitespace and full-width forms ("ＯＫ！" is "ok!") do not make a new sentence.
    return normalize(sentence)


def _truncate(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` within ``max_tokens`` (a Chinese character is ~1 token, not 1/4)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens(text[:mid]) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return text[:low]
