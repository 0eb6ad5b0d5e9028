"""Is a secret strong enough for production? Entropy and placeholder checks, no I/O.

The production guard (``Settings``) runs every bearer token, the LLM key and the passwords inside
the broker, Mongo and Redis URLs through ``secret_problem``. What it refuses: short secrets, few
distinct characters (``aaaaaaaaaaaaaaaa``), repeated patterns (``abcabcabcabcabc``,
``changeme-changeme``), low estimated entropy, and anything that contains a placeholder word
(``changeme``, ``password``, ``secret``...). Random tokens (``openssl rand -hex 16``,
``secrets.token_urlsafe(24)``) pass with a wide margin.
"""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import unquote, urlsplit

MIN_LENGTH = 16
MIN_DISTINCT_CHARS = 6
# Shannon entropy of the character frequencies times the length. 16 hex characters drawn at random
# score ~51 bits on average (rarely under 40); a word repeated or a keyboard run far less.
MIN_ESTIMATED_BITS = 40.0
# What must be left of a value without its placeholder words for the words to count as chance.
MIN_REST_BITS = 64.0
# Lower-cased substrings that mark a value someone meant to replace.
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "password",
    "passw0rd",
    "secret",
    "example",
    "placeholder",
    "replaceme",
    "replace-me",
    "default",
    "letmein",
    "qwerty",
    "123456",
    "abcdef",
    "guest",
    "admin",
    "dummy",
    "fixme",
    "dev-key",
)


def estimated_bits(value: str) -> float:
    """Shannon entropy of the value's character distribution times its length, in bits."""
    if not value:
        return 0.0
    counts = Counter(value)
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def _is_repetition(text: str) -> bool:
    return any(
        len(text) % size == 0 and text[:size] * (len(text) // size) == text for size in range(1, len(text) // 2 + 1)
    )


def _repeats_a_pattern(value: str) -> bool:
    """True for one shorter unit repeated, ignoring separators and up to two characters tacked on
    at the end (``abcd1234abcd1234!x``)."""
    core = "".join(ch for ch in value.lower() if ch.isalnum())
    return any(_is_repetition(core[: len(core) - cut]) for cut in range(3) if len(core) - cut >= 2)


def _placeholder(value: str) -> str | None:
    """The placeholder word that makes up much of ``value``, or None.

    A word inside a long random token (``openssl rand -hex 24`` may well contain ``123456``) is
    chance: the value is refused only when what is left without its placeholder words is short
    or predictable (``changeme-changeme``, ``Password123!``, ``my-super-secret-token``)."""
    lowered = value.lower()
    found = [word for word in PLACEHOLDER_WORDS if word in lowered]
    rest = lowered
    for word in found:
        rest = rest.replace(word, "")
    weak_rest = len(rest) < MIN_LENGTH or estimated_bits(rest) < MIN_REST_BITS
    return found[0] if found and weak_rest else None


def secret_problem(value: str) -> str | None:
    """Why ``value`` is not a production-grade secret, or None. Never includes the value itself."""
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    word = _placeholder(value)
    if word:
        return f"looks like a placeholder (contains {word!r})"
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return f"has fewer than {MIN_DISTINCT_CHARS} distinct characters"
    if _repeats_a_pattern(value):
        return "is a repeated pattern"
    if estimated_bits(value) < MIN_ESTIMATED_BITS:
        return f"has too little entropy (under {MIN_ESTIMATED_BITS:.0f} estimated bits)"
    return None


def url_password_problem(url: str) -> str | None:
    """Why the password inside a URL (or any of a ``;``-separated list) is weak, or None.

    A URL without a password passes here: whether one is required is the caller's rule."""
    for part in url.split(";"):
        password = urlsplit(part.strip()).password
        if password:
            problem = secret_problem(unquote(password))
            if problem:
                return f"password {problem}"
    return None
