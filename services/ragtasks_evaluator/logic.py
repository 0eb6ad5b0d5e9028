"""Pure recall-evaluation logic: sampling, questions, scoring, comparing reports.

No Celery, no Mongo, no prometheus here -- plain functions over plain data, unit-tested alone.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

OFFLINE_QUESTION_GENERATOR = "offline-keywords-v1"

# --- sampling ----------------------------------------------------------------------------------


def sample_ids(ids: Iterable[str], size: int, seed: int) -> list[str]:
    """A reproducible random sample: the same ids, size and seed always give the same sample.

    The ids are sorted first, so the order Mongo returns them in does not matter (``$sample``
    cannot be seeded, so it is not used).
    """
    ordered = sorted(set(ids))
    return random.Random(seed).sample(ordered, min(size, len(ordered)))


def batch_bounds(total: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges of the batches of a sample of ``total`` chunks."""
    return [(start, min(total, start + batch_size)) for start in range(0, total, batch_size)]


def normalize_ks(ks: Iterable[int]) -> list[int]:
    return sorted({int(k) for k in ks})


def retrieval_depth(retriever_top_k: int, ks: Iterable[int]) -> int:
    """How many ids to ask the retriever for: ``RAGTASKS_RETRIEVER_TOP_K``, but never fewer than the
    largest k of the evaluation (else ``hit_rate@k`` for that k could not be scored)."""
    return max([retriever_top_k, *ks])


# --- scoring -----------------------------------------------------------------------------------


def rank_of(source_ids: Iterable[str], retrieved: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved id that is the source chunk (or a chunk merged into it).

    An empty retrieval is simply a miss: ``None``.
    """
    wanted = set(source_ids)
    for position, chunk_id in enumerate(retrieved, start=1):
        if chunk_id in wanted:
            return position
    return None


def metric_key(name: str, k: int) -> str:
    return f"{name}@{k}"


def score(ranks: Sequence[int | None], ks: Iterable[int]) -> dict[str, float]:
    """``hit_rate@k`` and ``mrr@k`` over every row; a miss (``None``) counts as 0, never dropped."""
    result: dict[str, float] = {}
    n = len(ranks)
    for k in normalize_ks(ks):
        hits = [r for r in ranks if r is not None and r <= k]
        result[metric_key("hit_rate", k)] = round(len(hits) / n, 6) if n else 0.0
        result[metric_key("mrr", k)] = round(sum(1.0 / r for r in hits) / n, 6) if n else 0.0
    return result


@dataclass(frozen=True)
class Drop:
    metric: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        return round(self.current - self.previous, 6)


def compare(previous: dict[str, float], current: dict[str, float], threshold: float) -> list[Drop]:
    """The ``hit_rate@k`` values that fell by ``threshold`` or more since the previous report."""
    drops = []
    for key, value in current.items():
        if not key.startswith("hit_rate@") or key not in previous:
            continue
        if previous[key] - value >= threshold - 1e-9:
            drops.append(Drop(key, previous[key], value))
    return drops


# --- questions ---------------------------------------------------------------------------------

_SENTENCE_RE = re.compile(r"(?<=[.!?。！？])\s+")
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your yours
    said says say mr mrs ms one two three new year years today yesterday told""".split()  # noqa: SIM905
)


def _content_words(sentence: str) -> list[str]:
    return [w for w in _WORD_RE.findall(sentence) if len(w) > 2 and w.lower() not in _STOPWORDS]


def offline_question(text: str, *, max_words: int = 8) -> str:
    """A question the chunk answers, written without any network or model (deterministic).

    It takes the sentence richest in content words and asks about its first ``max_words`` of
    them. Cruder than an LLM's question -- it shares words with the chunk, so lexical retrievers
    find it more easily -- which is why reports name the generator.
    """
    sentences = [s for s in _SENTENCE_RE.split(text.strip()) if s.strip()] or [text]
    best = max(sentences, key=lambda s: len(set(_content_words(s))))
    words: list[str] = []
    for word in _content_words(best):
        if word.lower() not in {w.lower() for w in words}:
            words.append(word)
        if len(words) == max_words:
            break
    if not words:
        return f"What does this passage say: {text.strip()[:80]}?"
    return "What does the text say about " + " ".join(words) + "?"


QUESTION_SYSTEM_PROMPT = (
    "You write evaluation questions for a retrieval system. For each numbered passage write one "
    "natural question that the passage answers and that a user might ask without seeing it. Do not "
    "copy long phrases from the passage. Write in the passage's language. Answer with JSON only: "
    '{"questions": [{"id": "<passage number>", "question": "<question>"}]}'
)


def build_question_prompt(texts: Sequence[str], *, max_chars: int = 4000) -> list[dict[str, str]]:
    """One chat request for several chunks; passages are numbered 1..n (ids stay out of the prompt)."""
    body = "\n\n".join(f"Passage {i}:\n{text[:max_chars]}" for i, text in enumerate(texts, start=1))
    return [{"role": "system", "content": QUESTION_SYSTEM_PROMPT}, {"role": "user", "content": body}]


def parse_questions(answer: str, count: int) -> dict[int, str]:
    """Questions by 0-based passage index from the LLM's JSON; missing or malformed ones are absent.

    Accepts ``{"questions": [{"id": "1", "question": "..."}]}`` and, leniently, a bare list of
    strings in passage order. Never raises: a bad answer just yields fewer questions.
    """
    try:
        data: Any = json.loads(_strip_fences(answer))
    except json.JSONDecodeError:
        return {}
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return {}
    found: dict[int, str] = {}
    for position, item in enumerate(items):
        index: int | None
        question: Any
        if isinstance(item, str):
            index, question = position, item
        elif isinstance(item, dict):
            question = item.get("question")
            try:
                index = int(item.get("id", position + 1)) - 1
            except (TypeError, ValueError):
                index = None
        else:
            continue
        if index is not None and 0 <= index < count and isinstance(question, str) and question.strip():
            found.setdefault(index, question.strip()[:1000])
    return found


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    return text


# --- retriever answers -------------------------------------------------------------------------


class IdsFieldError(ValueError):
    """The retriever's answer does not have chunk ids where ``RAGTASKS_RETRIEVER_IDS_FIELD`` says."""


def extract_ids(document: Any, path: str) -> list[str]:
    """Follow a dotted path (``*`` = every list element) to the chunk ids of a retriever answer.

    ``"ids"`` -> ``doc["ids"]``; ``"results.*.chunk_id"`` -> ``[r["chunk_id"] for r in doc["results"]]``.
    An empty list is a valid answer (a miss); a missing field is an error.
    """
    values: list[Any] = [document]
    for part in [p for p in path.split(".") if p]:
        nxt: list[Any] = []
        for value in values:
            if part == "*":
                if not isinstance(value, list):
                    raise IdsFieldError(f"expected a list at '*' in {path!r}")
                nxt.extend(value)
            elif isinstance(value, dict) and part in value:
                nxt.append(value[part])
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                nxt.append(value[int(part)])
            else:
                raise IdsFieldError(f"field {part!r} of {path!r} is missing in the retriever's answer")
        values = nxt
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    ids = []
    for value in values:
        if isinstance(value, dict):
            raise IdsFieldError(f"{path!r} points at objects, not ids")
        if value is not None:
            ids.append(str(value))
    return ids
