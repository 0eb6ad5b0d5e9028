"""Language-aware text handling shared by every component (see analyzer.py and docs/text.md)."""

from ragtasks_core.text.analyzer import (
    cjk_ratio,
    is_cjk,
    keywords,
    language_of,
    normalize,
    split_sentences,
    tokenize,
)
from ragtasks_core.text.blank import is_blank

__all__ = ["cjk_ratio", "is_blank", "is_cjk", "keywords", "language_of", "normalize", "split_sentences", "tokenize"]
