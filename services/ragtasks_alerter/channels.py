"""Delivery channels over real HTTP (httpx): the WeCom group robot and a generic JSON webhook.

The webhook URLs carry secrets. Nothing here logs them, and error details are built from the
status and errcode only, never from an exception text that could quote the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ragtasks_core import tracing
from ragtasks_core.settings import Settings

from .format import AlertView, MessageStyle, markdown, webhook_body, wecom_markdown_message
from .policy import AttemptResult, classify_http, classify_wecom
from .routing.config import Receiver
from .routing.mentions import wecom_message

WECOM = "wecom"
WEBHOOK = "webhook"
CHANNELS = (WECOM, WEBHOOK)


def message_style(settings: Settings) -> MessageStyle:
    """RAGTASKS_ALERT_LANGUAGE, RAGTASKS_TIMEZONE and RAGTASKS_ALERT_LINK_HOSTS, as the formatter takes them."""
    return MessageStyle(settings.alert_language, settings.timezone, frozenset(settings.alert_link_hosts))


def build_request(channel: str, group_key: str, alerts: Sequence[AlertView], style: MessageStyle) -> dict[str, Any]:
    if channel == WECOM:
        return wecom_markdown_message(markdown(group_key, alerts, style))
    if channel == WEBHOOK:
        return webhook_body(group_key, alerts, style)
    raise ValueError(f"unknown channel {channel!r}")


def routed_request(receiver: Receiver, title: str, alerts: Sequence[AlertView], style: MessageStyle) -> dict[str, Any]:
    """A routed notification's body: the receiver's message type and mentions (WeCom), or the
    generic JSON body, headed by the group's title."""
    if receiver.wecom is not None:
        return wecom_message(markdown(title, alerts, style), receiver.wecom)
    return webhook_body(title, alerts, style)


def receiver_url(receiver: Receiver) -> tuple[str | None, str]:
    """The receiver's URL, read now (``*_file``: a mounted Secret may have been rotated), or
    None and why not. The reason never quotes the URL."""
    inline, path = receiver.url_fields()
    if inline is not None:
        return inline, ""
    try:
        url = Path(str(path)).read_text(encoding="utf-8").strip()
    except OSError as exc:
        return None, f"receiver {receiver.name}: cannot read its URL file ({type(exc).__name__})"
    if not url.startswith(("http://", "https://")):
        return None, f"receiver {receiver.name}: its URL file does not hold an http(s) URL"
    return url, ""


def send(client: httpx.Client, channel: str, url: str, body: dict[str, Any]) -> AttemptResult:
    """POST one message; map the answer (or the failure) to an ``AttemptResult``.

    One ``ragtasks.alert.deliver`` span with the outcome and WeCom's errcode; the URL's key never
    reaches a span (the tracing setup masks the query values of httpx's URL attributes).
    """
    with tracing.span("ragtasks.alert.deliver", {"ragtasks.alert.channel": channel}) as span:
        result = _post(client, channel, url, body)
        span.set_attributes(_span_attributes(result))
        return result


def _span_attributes(result: AttemptResult) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {"ragtasks.alert.outcome": result.kind}
    if result.errcode is not None:
        attributes["ragtasks.wecom.errcode"] = result.errcode
    if result.http_status is not None:
        attributes["http.response.status_code"] = result.http_status
    return attributes


def _post(client: httpx.Client, channel: str, url: str, body: dict[str, Any]) -> AttemptResult:
    try:
        response = client.post(url, json=body)
    except httpx.TimeoutException:
        return AttemptResult("transient", "timeout")
    except httpx.HTTPError as exc:
        # The exception's text may quote the URL (and so the key): only its type is kept.
        return AttemptResult("transient", f"connection error ({type(exc).__name__})")
    if channel == WECOM:
        try:
            payload: object = response.json()
        except ValueError:
            payload = None
        return classify_wecom(response.status_code, payload)
    kind = classify_http(response.status_code)
    return AttemptResult(kind, f"HTTP {response.status_code}", http_status=response.status_code)
