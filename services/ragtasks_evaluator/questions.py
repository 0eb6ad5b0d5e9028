"""Question writers: the questions a user might ask that a chunk answers, from an LLM or offline.

A writer takes :class:`QuestionRequest` s (a chunk's text, how many new questions it needs, and
those it already has) and returns, per request, exactly ``count`` ``(question, how it was
written)``: the writer's own questions first -- distinct from each other and from ``asked`` --
then, for whatever it could not write, offline questions labelled as such. The offline writer
needs no network and no model (deterministic); the LLM writer asks several chunks per call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ragtasks_core.prompt_budget import chat_tokens, prompt_limit, shorten
from ragtasks_core.text import is_cjk, keywords, language_of, tokenize

OFFLINE_QUESTION_GENERATOR = "offline-keywords-v2"


@dataclass(frozen=True)
class QuestionRequest:
    """One chunk's ask: its text, how many new questions, and the ones it has (not to repeat)."""

    text: str
    count: int = 1
    asked: tuple[str, ...] = ()


Written = list[tuple[str, str]]  # (question, how it was written)
QuestionWriter = Callable[[list[QuestionRequest]], list[Written]]


def offline_writer(requests: list[QuestionRequest]) -> list[Written]:
    return [[(q, OFFLINE_QUESTION_GENERATOR) for q in offline_questions(r.text, r.count, r.asked)] for r in requests]


def llm_writer(
    chat: Callable[..., Any], *, model: str, max_tokens: int, context_tokens: int | None = None
) -> QuestionWriter:
    """Several chunks per call, JSON out; what the answer lacks gets offline questions (labelled).

    A question is kept only if it is new for its chunk (not a repeat of another or of ``asked``,
    compared on the analyzer's tokens) and, for a Chinese passage, written in Chinese.
    With ``context_tokens`` (``RAGTASKS_LLM_CONTEXT_TOKENS``) the prompt is kept inside the model's
    window, leaving room for the reply: each passage gets an equal share and is shortened to it."""
    budget = None if context_tokens is None else prompt_limit(context_tokens, max_tokens)
    generator = f"llm:{model}"

    def write(requests: list[QuestionRequest]) -> list[Written]:
        # Temperature 0: the questions a chunk gets are as repeatable as the model allows; they
        # are stored and reused anyway (``question_store``), so only new text is written for.
        prompt = build_question_prompt(requests, prompt_tokens=budget)
        completion = chat(prompt, max_tokens, json_mode=True, temperature=0)
        found = parse_questions(completion.text, len(requests))
        written = []
        for i, request in enumerate(requests):
            own = accepted(request, found.get(i, []))
            rest = offline_questions(request.text, request.count - len(own), (*request.asked, *own))
            written.append([(q, generator) for q in own] + [(q, OFFLINE_QUESTION_GENERATOR) for q in rest])
        return written

    return write


def accepted(request: QuestionRequest, candidates: Iterable[str]) -> list[str]:
    """The first ``request.count`` candidates that are new (not a repeat) and in the passage's script."""
    seen = {question_key(q) for q in request.asked}
    chinese = language_of(request.text) == "zh"
    kept: list[str] = []
    for question in candidates:
        key = question_key(question)
        # A Chinese chunk is searched with Chinese questions, as its users ask them.
        if not key or key in seen or (chinese and not any(is_cjk(ch) for ch in question)):
            continue
        seen.add(key)
        kept.append(question)
        if len(kept) == request.count:
            break
    return kept


def question_key(question: str) -> str:
    """What makes two questions the same: their words, whatever the case, width and punctuation."""
    return " ".join(tokenize(question, stopwords=False))


# --- offline questions -------------------------------------------------------------------------

# How many key terms a question asks about: Chinese terms are words of two to four characters
# that each carry a concept, so fewer of them make a question as specific as eight English words.
MAX_TERMS = {"zh": 4, "en": 8}


def offline_questions(text: str, count: int, asked: Sequence[str] = ()) -> list[str]:
    """``count`` offline questions for ``text`` that repeat neither each other nor ``asked``.

    Variant 0 is :func:`offline_question`; variant v leaves out the v most important key terms,
    so each asks about another part of the chunk. A chunk with too few key terms for ``count``
    different questions repeats its last one (still a fair query, just not a new one).
    """
    seen = {question_key(q) for q in asked}
    found: list[str] = []
    variant = 0
    while len(found) < count:
        question = offline_question(text) if variant == 0 else _other_question(text, variant)
        if question is None:
            break
        if question_key(question) not in seen:
            seen.add(question_key(question))
            found.append(question)
        variant += 1
    fill = found[-1] if found else offline_question(text)
    return found + [fill] * (count - len(found))


def offline_question(text: str) -> str:
    """A question the chunk answers, in the chunk's language, written without network or model.

    It asks about the chunk's key terms (the analyzer's ``keywords``), as many as fit in a
    question shorter than half the chunk -- so a question never copies its chunk, which would
    make the offline recall of a KB a meaningless 1.0. Cruder than an LLM's question (it shares
    words with the chunk, so lexical retrievers find it more easily), which is why reports name
    the generator. Deterministic.
    """
    body = text.strip()
    language = language_of(body)
    return _fit(body, language, keywords(body, top_k=MAX_TERMS[language]) or [body])


def _other_question(text: str, variant: int) -> str | None:
    """Variant ``variant`` (>= 1): about the key terms after the ``variant`` most important; None
    once the chunk has no terms left."""
    body = text.strip()
    language = language_of(body)
    terms = keywords(body, top_k=MAX_TERMS[language] + variant)[variant:]
    return _fit(body, language, terms) if terms else None


def _fit(body: str, language: str, terms: list[str]) -> str:
    """The question about as many of ``terms`` as fit in under half the chunk."""
    limit = (len(body) - 1) // 2  # strictly shorter than half the chunk
    for n in range(len(terms), 0, -1):
        question = _ask(language, terms[:n])
        if len(question) <= limit:
            return question
    # A chunk too short for any question around its terms: its first term, cut to fit.
    term = terms[0][: max(1, limit - 1)]
    return term + ("？" if language == "zh" else "?") if len(term) < limit else term


def _ask(language: str, terms: list[str]) -> str:
    if language == "en":
        return "What does the text say about " + " ".join(terms) + "?"
    # Every word the template adds (请问, 是, 怎样, 的) is a stopword: retrieval sees only the terms.
    joined = terms[0] if len(terms) == 1 else "、".join(terms[:-1]) + "和" + terms[-1]
    return f"请问{joined}是怎样的？"


# --- the LLM's prompt and answer ---------------------------------------------------------------

QUESTION_SYSTEM_PROMPT = (
    "You write evaluation questions for a retrieval system. For each numbered passage write natural "
    "questions that the passage answers and that a user might ask without seeing it: one question, or "
    "as many as the passage's label asks for, each about a different point of the passage. Never repeat "
    "a question listed as already asked. Do not copy long phrases from the passage. Write every question "
    "in its passage's language: a Chinese passage gets questions in Chinese, an English passage "
    "questions in English. Answer with JSON only: "
    '{"questions": [{"id": "<passage number>", "questions": ["<question>", ...]}]}'
)
# How much of an already-asked question the prompt repeats: enough not to ask it again.
ASKED_CHARS = 200


def build_question_prompt(
    requests: Sequence[QuestionRequest | str], *, max_chars: int = 4000, prompt_tokens: int | None = None
) -> list[dict[str, str]]:
    """One chat request for several chunks; passages are numbered 1..n (ids stay out of the prompt),
    each labelled with how many questions it needs and followed by the ones it already has.

    ``prompt_tokens``: the whole prompt stays within it; every passage gets an equal share of what
    the instructions, labels and asked questions leave, shortened (head and tail, with a marker)."""
    asks = [r if isinstance(r, QuestionRequest) else QuestionRequest(r) for r in requests]
    passages = [a.text[:max_chars] for a in asks]
    prompt = _question_prompt(passages, asks)
    if prompt_tokens is None or not passages:
        return prompt
    share = max(1, (prompt_tokens - chat_tokens(_question_prompt([""] * len(asks), asks))) // len(asks))
    while chat_tokens(prompt) > prompt_tokens and share > 1:
        prompt = _question_prompt([shorten(text, share) for text in passages], asks)
        # BPE merges across the joins (label, passage, separator) differ a little: take it off.
        share = max(1, share - max(0, chat_tokens(prompt) - prompt_tokens) // len(asks) - 1)
    return prompt


def _question_prompt(passages: Sequence[str], asks: Sequence[QuestionRequest]) -> list[dict[str, str]]:
    body = "\n\n".join(_passage(i, text, ask) for i, (text, ask) in enumerate(zip(passages, asks, strict=True), 1))
    return [{"role": "system", "content": QUESTION_SYSTEM_PROMPT}, {"role": "user", "content": body}]


def _passage(number: int, text: str, ask: QuestionRequest) -> str:
    label = f"Passage {number}:" if ask.count == 1 else f"Passage {number} ({ask.count} different questions):"
    if not ask.asked:
        return f"{label}\n{text}"
    asked = "\n".join(f"- {q[:ASKED_CHARS]}" for q in ask.asked)
    return f"{label}\n{text}\nAlready asked about passage {number} (write other questions):\n{asked}"


def parse_questions(answer: str, count: int) -> dict[int, list[str]]:
    """Questions by 0-based passage index from the LLM's JSON; missing or malformed ones are absent.

    Accepts ``{"questions": [{"id": "1", "questions": ["...", ...]}]}``, one question per item
    (``"question": "..."``, an id may repeat) and, leniently, a bare list of strings in passage
    order. Never raises: a bad answer just yields fewer questions.
    """
    try:
        data: Any = json.loads(_strip_fences(answer))
    except json.JSONDecodeError:
        return {}
    items = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return {}
    found: dict[int, list[str]] = {}
    for position, item in enumerate(items):
        index, texts = _item(position, item)
        if index is None or not 0 <= index < count:
            continue
        for text in texts:
            if isinstance(text, str) and text.strip():
                found.setdefault(index, []).append(text.strip()[:1000])
    return found


def _item(position: int, item: Any) -> tuple[int | None, list[Any]]:
    """One answer item as (passage index, its questions)."""
    if isinstance(item, str):
        return position, [item]
    if not isinstance(item, dict):
        return None, []
    texts = item.get("questions")
    texts = texts if isinstance(texts, list) else [item.get("question")]
    try:
        return int(item.get("id", position + 1)) - 1, texts
    except (TypeError, ValueError):
        return None, []


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    return text
