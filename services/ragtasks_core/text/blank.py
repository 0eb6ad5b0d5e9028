"""What "blank" means for user text: nothing a reader would see.

``str.strip()`` knows whitespace (the ideographic space U+3000 included) but not the format
characters that render as nothing: the zero-width space, joiners, the word joiner, the BOM. A
message of those alone looks empty in every client, and would be stored, counted and summarized.
"""

from __future__ import annotations

import unicodedata

# Letters, numbers, punctuation and symbols show; so do private-use characters (icon fonts) and
# code points this Python's Unicode tables do not know yet (Cn): an emoji or ideograph newer than
# them (🩷 is Cn under Python 3.11's Unicode 14) must not make a message "blank". A combining mark
# shows only on a base character, which is then the visible one.
_SHOWN_CLASSES = frozenset("LNPS")
_SHOWN_OTHER = frozenset({"Co", "Cn"})
# Letters and symbols that are drawn as empty space: the Hangul fillers and the blank Braille cell.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_visible(ch: str) -> bool:
    """True for one character that shows: not whitespace, a control, a format character
    (U+200B..U+200D, U+2060, U+FEFF, the soft hyphen...), a lone combining mark or a filler."""
    category = unicodedata.category(ch)
    return (category[0] in _SHOWN_CLASSES or category in _SHOWN_OTHER) and ch not in _INVISIBLE


def is_blank(text: str) -> bool:
    """True when ``text`` has no visible character (empty, spaces, zero-width characters only)."""
    return not any(is_visible(ch) for ch in text)
