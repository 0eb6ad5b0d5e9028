"""Question writers: the question a user might ask that a chunk answers, from an LLM or offline.

A writer takes chunk texts and returns ``[(question, how it was written)]`` in the same order.
The offline writer needs no network and no model (deterministic); the LLM writer asks several
chunks per call and falls back to the offline question, labelled as such, for a chunk it skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ragtasks_core.prompt_budget import chat_tokens, prompt_limit, shorten
from ragtasks_core.text import keywords, language_of

OFFLINE_QUESTION_GENERATOR = "offline-keywords-v2"

# chunk texts -> [(question, how it was written)] in the same order.
QuestionWriter = Callable[[list[str]], list[tuple[str, str]]]


def offline_writer(texts: list[str]) -> list[tuple[str, str]]:
    return [(offline_question(t), OFFLINE_QUESTION_GENERATOR) for t in texts]


def llm_writer(
    chat: Callable[..., Any], *, model: str, max_tokens: int, context_tokens: int | None = None
) -> QuestionWriter:
    """Several chunks per call, JSON out; a chunk the answer skips gets the offline question (labelled).

    With ``context_tokens`` (``RAGTASKS_LLM_CONTEXT_TOKENS``) the prompt is kept inside the model's
    window, leaving room for the reply: each passage gets an equal share and is shortened to it."""
    budget = None if context_tokens is None else prompt_limit(context_tokens, max_tokens)

    def write(texts: list[str]) -> list[tuple[str, str]]:
        # Temperature 0: the question a chunk gets is as repeatable as the model allows; it is
        # stored and reused anyway (``question_store``), so a rewrite only happens for new text.
        prompt = build_question_prompt(texts, prompt_tokens=budget)
        completion = chat(prompt, max_tokens, json_mode=True, temperature=0)
        found = parse_questions(completion.text, len(texts))
        return [
            (found[i], f"llm:{model}") if i in found else (offline_question(t), OFFLINE_QUESTION_GENERATOR)
            for i, t in enumerate(texts)
        ]

    return write


# --- offline questions -------------------------------------------------------------------------

# How many key terms a question asks about: Chinese terms are words of two to four characters
# that each carry a concept, so fewer of them make a question as specific as eight English words.
MAX_TERMS = {"zh": 4, "en": 8}


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
    terms = keywords(body, top_k=MAX_TERMS[language]) or [body]
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


QUESTION_SYSTEM_PROMPT = (
    "You write evaluation questions for a retrieval system. For each numbered passage write one "
    "natural question that the passage answers and that a user might ask without seeing it. Do not "
    "copy long phrases from the passage. Write each question in its passage's language: a Chinese "
    "passage gets a question in Chinese, an English passage a question in English. Answer with JSON "
    "only: "
    '{"questions": [{"id": "<passage number>", "question": "<question>"}]}'
)


def build_question_prompt(
    texts: Sequence[str], *, max_chars: int = 4000, prompt_tokens: int | None = None
) -> list[dict[str, str]]:
    """One chat request for several chunks; passages are numbered 1..n (ids stay out of the prompt).

    ``prompt_tokens``: the whole prompt stays within it; every passage gets an equal share of what
    the instructions and labels leave, shortened (head and tail, with a marker) to fit it."""
    passages = [text[:max_chars] for text in texts]
    prompt = _question_prompt(passages)
    if prompt_tokens is None or not passages:
        return prompt
    share = max(1, (prompt_tokens - chat_tokens(_question_prompt([""] * len(passages)))) // len(passages))
    while chat_tokens(prompt) > prompt_tokens and share > 1:
        prompt = _question_prompt([shorten(text, share) for text in passages])
        # BPE merges across the joins (label, passage, separator) differ a little: take it off.
        share = max(1, share - max(0, chat_tokens(prompt) - prompt_tokens) // len(passages) - 1)
    return prompt


def _question_prompt(passages: Sequence[str]) -> list[dict[str, str]]:
    body = "\n\n".join(f"Passage {i}:\n{text}" for i, text in enumerate(passages, start=1))
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
