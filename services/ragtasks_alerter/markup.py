"""Alert text made safe for WeCom's markdown: no link, image or tag that the sender did not vouch for.

Titles, bodies, annotations and labels come from callers and from Alertmanager, so they can carry
``[SSO](http://evil.example/login)``, ``![x](...)``, ``javascript:`` links, autolinks
``<http://...>`` or bare URLs. A link is rendered as a link only when its scheme is http(s) and its
host (or host:port) is listed in ``RAGTASKS_ALERT_LINK_HOSTS``; every other link keeps its label and
shows its address defanged (``hxxp://evil［.］example/login``) so that no client turns it into
something clickable; a link with any other scheme (``javascript:``, ``data:``) loses its address.
Markup characters left in the text are replaced by look-alikes WeCom does not interpret: WeCom's
markdown has no backslash escapes, so escaping would show backslashes instead of protecting.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

# [label](url "title") and ![alt](url); <scheme:...> autolinks; bare http(s)/www addresses.
_LINK_RE = re.compile(
    r"(?P<image>!?)\[(?P<label>[^\[\]\n]*)\]\(\s*<?(?P<url>(?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
    r"|<(?P<auto>[a-zA-Z][a-zA-Z0-9+.\-]{1,31}:[^\s<>]*)>"
    r"|(?P<bare>\b(?:https?://|www\.)[^\s<>()\[\]\"'`]+)",
    re.IGNORECASE,
)
_URL_PARTS_RE = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.\-]*:(?=//))?(?P<slashes>//)?(?P<host>[^/?#]*)(?P<rest>.*)", re.IGNORECASE | re.DOTALL
)
# Characters that open markdown links, images or HTML-like tags, and their inert look-alikes.
_INERT = str.maketrans({"[": "［", "]": "］", "<": "‹", ">": "›", "`": "'"})


def inert(text: str) -> str:
    """``text`` with no character that could open a link, an image or a tag."""
    return text.translate(_INERT)


def allowed(url: str, hosts: Collection[str]) -> bool:
    """An http(s) URL whose host, or host:port, is one of ``hosts`` (lower case)."""
    if not re.fullmatch(r"https?://[^\s\\<>()\[\]\"'`]+", url, re.IGNORECASE):
        return False
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return False
    if not host:
        return False
    return host in hosts or (port is not None and f"{host}:{port}" in hosts)


def defang(url: str) -> str:
    """A URL no client will link: ``hxxp://evil［.］example/login`` (``www.`` and ``//`` forms too)."""
    parts = _URL_PARTS_RE.match(url)
    assert parts is not None  # every group is optional: it always matches
    scheme = re.sub("^http", "hxxp", parts["scheme"] or "", flags=re.IGNORECASE)
    host = parts["host"].replace(".", "［.］")
    return inert(f"{scheme}{parts['slashes'] or ''}{host}{parts['rest']}")


def _render(match: re.Match[str], hosts: Collection[str]) -> str:
    if match.group("bare") is not None:
        url = match.group("bare")
        return f"[{inert(url)}]({url})" if allowed(url, hosts) else defang(url)
    url = match.group("url") if match.group("auto") is None else match.group("auto")
    label = inert(match.group("label") or "").strip()
    if allowed(url, hosts):  # an image or autolink to a listed host becomes a plain link
        return f"[{label or inert(url)}]({url})"
    if re.match(r"(?:https?://|www\.|//)", url, re.IGNORECASE):
        return f"{label} ({defang(url)})" if label else defang(url)
    return label  # javascript:, data:, vbscript:, mailto: ... : the address goes, the words stay


def safe_markdown(text: str, hosts: Collection[str] = ()) -> str:
    """``text`` for a WeCom markdown message: links only to ``hosts``, no images, no tags."""
    out: list[str] = []
    position = 0
    for match in _LINK_RE.finditer(text):
        out.append(inert(text[position : match.start()]))
        out.append(_render(match, hosts))
        position = match.end()
    out.append(inert(text[position:]))
    return "".join(out)
