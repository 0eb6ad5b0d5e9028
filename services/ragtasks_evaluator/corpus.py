"""A real corpus nobody here wrote: the Lee news corpus shipped inside the ``gensim`` wheel.

300 Australian news stories (``gensim/test/test_data/lee_background.cor``), one per line, read
from the installed package (no download). Used by the demo, the tests and the benchmark.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def lee_path() -> Path:
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gensim package is not installed (pip install gensim): it ships the Lee corpus")
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / "lee_background.cor"


def lee_documents() -> list[str]:
    text = lee_path().read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def chunk_text(text: str, max_words: int = 120) -> list[str]:
    """Whole sentences, packed into chunks of at most ``max_words`` words (a long sentence alone)."""
    chunks: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in _SENTENCE_RE.split(text):
        n = len(sentence.split())
        if current and words + n > max_words:
            chunks.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += n
    if current:
        chunks.append(" ".join(current))
    return chunks


def lee_chunks(max_words: int = 120) -> list[dict[str, str]]:
    """``[{"chunk_id": "lee-007-1", "doc_id": "lee-007", "text": ...}]`` in corpus order."""
    out = []
    for d, doc in enumerate(lee_documents()):
        for c, text in enumerate(chunk_text(doc, max_words)):
            out.append({"chunk_id": f"lee-{d:03d}-{c}", "doc_id": f"lee-{d:03d}", "text": text})
    return out
