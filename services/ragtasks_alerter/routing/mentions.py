"""A WeCom receiver's message: markdown with ``<@userid>`` mentions, or text with WeCom's mention lists.

WeCom's markdown messages mention only by user id, written ``<@userid>`` in the content; text
messages carry ``mentioned_list`` (user ids, ``@all``) and ``mentioned_mobile_list``. Mentions are
added after the content is cut to size, so a long message never loses them. Alert text reaches
here already made inert (``markup.safe_markdown`` turns ``<`` into a look-alike), so the only
tags in the content are the formatter's own ``<font>`` ones.
"""

from __future__ import annotations

import re
from typing import Any

from ..format import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, truncate_utf8
from .config import WecomReceiver

_FONT_TAG = re.compile(r"</?font[^>]*>")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def wecom_message(content: str, receiver: WecomReceiver) -> dict[str, Any]:
    """The JSON body for one receiver from the formatter's markdown ``content``."""
    if receiver.message_type == "text":
        return _text(plain_text(content), receiver)
    suffix = "".join(f"<@{user}>" for user in receiver.mention_users)
    suffix = f"\n{suffix}" if suffix else ""
    room = MARKDOWN_MAX_BYTES - len(suffix.encode("utf-8"))
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, room) + suffix}}


def plain_text(markdown: str) -> str:
    """The formatter's markdown as a text message shows it: no ``**`` and no ``<font>`` tags."""
    return _BOLD.sub(r"\1", _FONT_TAG.sub("", markdown))


def _text(content: str, receiver: WecomReceiver) -> dict[str, Any]:
    body: dict[str, Any] = {"content": truncate_utf8(content, TEXT_MAX_BYTES)}
    if receiver.mention_users:
        body["mentioned_list"] = list(receiver.mention_users)
    if receiver.mention_mobiles:
        body["mentioned_mobile_list"] = list(receiver.mention_mobiles)
    return {"msgtype": "text", "text": body}
