"""Delivery channels over real HTTP (httpx): the WeCom group robot and a generic JSON webhook.

The webhook URLs carry secrets. Nothing here logs them, and error details are built from the
status and errcode only, never from an exception text that could quote the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .format import AlertView, markdown, webhook_body, wecom_markdown_message
from .policy import AttemptResult, classify_http, classify_wecom

WECOM = "wecom"
WEBHOOK = "webhook"
CHANNELS = (WECOM, WEBHOOK)


def build_request(channel: str, group_key: str, alerts: Sequence[AlertView]) -> dict[str, Any]:
    if channel == WECOM:
        return wecom_markdown_message(markdown(group_key, alerts))
    if channel == WEBHOOK:
        return webhook_body(group_key, alerts)
    raise ValueError(f"unknown channel {channel!r}")


def send(client: httpx.Client, channel: str, url: str, body: dict[str, Any]) -> AttemptResult:
    """POST one message; map the answer (or the failure) to an ``AttemptResult``."""
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
