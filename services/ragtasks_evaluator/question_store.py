"""Question sets that stay put: a chunk's questions are written once per (chunk text, writer, model)
and reused.

The ``eval_questions`` collection holds one document per ``(content hash, generator)``:
``{_id, hash, generator, questions: [...], created_at, updated_at?}``, where ``generator`` names the
writer and its model (``llm:<model>``, ``offline-keywords-v2``) and ``questions`` is the chunk's
list, in the order written. The key is the chunk's *text* hash, not its id: an unchanged chunk
keeps its questions night after night (so nightly differences are the retriever's, not question
noise), a changed chunk gets new ones, and the same text in two KBs shares them.

An evaluation with ``questions_per_chunk`` N asks the first N; when fewer are stored, only the
missing ones are written (the writer sees the stored ones, so it does not repeat them) and
appended. The list grows by compare-and-set on its length (first writer wins), so two batches
racing on one text agree on one list. Only questions the generator itself wrote are kept: a
question the LLM did not write gets an offline one for this evaluation and another LLM try in
the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import takewhile
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from .questions import QuestionRequest, QuestionWriter

COLLECTION = "eval_questions"

# (question, how it was written, its stored id or None when it was not stored)
Asked = tuple[str, str, str | None]


def set_id(content_hash: str, generator: str) -> str:
    return f"{content_hash}:{generator}"


def question_id(content_hash: str, generator: str, index: int) -> str:
    """Names one stored question (rows record it): the set's id and the position in its list."""
    return f"{set_id(content_hash, generator)}:{index}"


def load(db: Database, generator: str, hashes: Iterable[str]) -> dict[str, list[str]]:
    """The stored questions of ``hashes`` for ``generator``: ``{hash: [question, ...]}``."""
    wanted = sorted({set_id(h, generator) for h in hashes})
    if not wanted:
        return {}
    found = db[COLLECTION].find({"_id": {"$in": wanted}}, {"hash": 1, "questions": 1})
    return {d["hash"]: list(d.get("questions") or []) for d in found}


def append(db: Database, generator: str, new: dict[str, tuple[int, list[str]]]) -> dict[str, list[str]]:
    """Store ``{hash: (how many it had, new questions)}`` after what each had, unless another writer
    appended first; returns the lists as stored now."""
    if not new:
        return {}
    now = datetime.now(UTC)
    ops = []
    for h, (known, questions) in new.items():
        if known == 0:
            doc = {"hash": h, "generator": generator, "questions": questions, "created_at": now}
            ops.append(UpdateOne({"_id": set_id(h, generator)}, {"$setOnInsert": doc}, upsert=True))
        else:
            ops.append(
                UpdateOne(
                    {"_id": set_id(h, generator), "questions": {"$size": known}},
                    {"$push": {"questions": {"$each": questions}}, "$set": {"updated_at": now}},
                )
            )
    db[COLLECTION].bulk_write(ops, ordered=False)
    return load(db, generator, new)


def questions_for(
    db: Database, writer: QuestionWriter, generator: str, chunks: list[dict[str, Any]], per_chunk: int = 1
) -> list[list[Asked]]:
    """``per_chunk`` questions per chunk, in order: the stored ones first, then new ones from
    ``writer`` (stored when the generator wrote them; not stored -- id None -- for a fallback, or
    for a chunk without a hash). A text shared by several chunks is written for once."""
    keys = [str(c.get("hash") or f"chunk:{c['chunk_id']}") for c in chunks]
    stored = load(db, generator, (k for k, c in zip(keys, chunks, strict=True) if c.get("hash")))
    requests: dict[str, QuestionRequest] = {}
    for key, chunk in zip(keys, chunks, strict=True):
        have = stored.get(key, [])
        if len(have) < per_chunk and key not in requests:
            requests[key] = QuestionRequest(chunk["text"], per_chunk - len(have), tuple(have))
    written = dict(zip(requests, writer(list(requests.values())), strict=True)) if requests else {}
    # The writer puts its own questions first: those are stored, after what the set had.
    own = {k: [q for q, source in takewhile(lambda w: w[1] == generator, answers)] for k, answers in written.items()}
    fresh = {k: (len(requests[k].asked), qs) for k, qs in own.items() if qs and not k.startswith("chunk:")}
    stored.update(append(db, generator, fresh))
    return [_assemble(key, stored, requests, written, generator, per_chunk) for key in keys]


def _assemble(
    key: str,
    stored: dict[str, list[str]],
    requests: dict[str, QuestionRequest],
    written: dict[str, list[tuple[str, str]]],
    generator: str,
    per_chunk: int,
) -> list[Asked]:
    """One chunk's questions: stored ones by position, the writer's answers for the rest (which
    it wrote after the ``asked`` it was shown; a lost race leaves them unstored)."""
    have = [] if key.startswith("chunk:") else stored.get(key, [])
    base = len(requests[key].asked) if key in requests else 0
    result: list[Asked] = []
    for index in range(per_chunk):
        if index < len(have):
            result.append((have[index], generator, question_id(key, generator, index)))
        else:
            question, source = written[key][index - base]
            result.append((question, source, None))
    return result
