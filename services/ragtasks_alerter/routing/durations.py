"""Prometheus durations as Alertmanager's config takes them: ``30s``, ``5m``, ``1h30m``, ``1d``, ``0``."""

from __future__ import annotations

import re

_UNITS = (("y", 365 * 86_400.0), ("w", 7 * 86_400.0), ("d", 86_400.0), ("h", 3_600.0), ("m", 60.0), ("s", 1.0))
# Units largest first, each at most once, as prometheus/common's model.ParseDuration demands.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_duration(text: str) -> float:
    """Seconds; a ``ValueError`` that quotes the text when it is not a Prometheus duration."""
    value = text.strip()
    if value == "0":
        return 0.0
    found = _DURATION.match(value)
    if not value or found is None:
        raise ValueError(f"not a valid duration string: {text!r} (e.g. 30s, 5m, 1h30m, 2d)")
    parts = found.groups()
    seconds = sum(int(n) * unit for n, (_, unit) in zip(parts[:6], _UNITS, strict=True) if n)
    return seconds + (int(parts[6]) / 1000.0 if parts[6] else 0.0)


def format_duration(seconds: float) -> str:
    """The shortest Prometheus spelling of whole seconds (for messages and ``check-config``)."""
    rest = int(seconds)
    if rest == 0:
        return "0s"
    out = ""
    for suffix, unit in _UNITS:
        count, rest = divmod(rest, int(unit))
        if count:
            out += f"{count}{suffix}"
    return out
