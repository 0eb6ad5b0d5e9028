"""The corpora the demo, the tests and the benchmarks load.

- The Lee news corpus, a real corpus nobody here wrote: 300 Australian news stories shipped inside
  the ``gensim`` wheel (``gensim/test/test_data/lee_background.cor``), read from the installed
  package (no download).
- The Chinese KB written for this project (``tests/data/zh_kb``, see its README): 55 chunks from
  five domains, 30 paraphrased questions, 10 near-duplicate pairs. It is test data, read from the
  repository checkout; ``zh_kb_dir()`` is ``None`` where there is none (an installed image).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class ZhKb:
    chunks: list[dict[str, str]]  # chunk_id, doc_id, domain, text
    questions: list[dict[str, str]]  # question, chunk_id (the chunk that answers it)
    near_duplicates: list[dict[str, str]]  # chunk_id, doc_id, of (the original), kind, text

    @property
    def text(self) -> dict[str, str]:
        return {c["chunk_id"]: c["text"] for c in self.chunks}


def zh_kb_dir() -> Path | None:
    """``tests/data/zh_kb`` of the repository checkout this package runs from, if there is one."""
    path = Path(__file__).resolve().parents[2] / "tests" / "data" / "zh_kb"
    return path if (path / "chunks.jsonl").is_file() else None


def load_zh_kb(path: Path | None = None) -> ZhKb:
    path = path or zh_kb_dir()
    if path is None:
        raise FileNotFoundError("the Chinese test KB (tests/data/zh_kb) is not in this checkout")
    return ZhKb(_jsonl(path / "chunks.jsonl"), _jsonl(path / "questions.jsonl"), _jsonl(path / "near_duplicates.jsonl"))


def _jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
