"""What to do after a delivery attempt: WeCom errcodes and HTTP statuses to sent/retry/dead. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WECOM_OK = 0
WECOM_BUSY = -1
WECOM_FREQUENCY_LIMIT = 45009
WECOM_INVALID_KEY = 93000

Kind = Literal["sent", "transient", "rate_limited", "permanent"]


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one HTTP attempt. ``detail`` never contains the webhook URL."""

    kind: Kind
    detail: str
    errcode: int | None = None
    http_status: int | None = None


def classify_http(status: int) -> Kind:
    if 200 <= status < 300:
        return "sent"
    if status == 429:
        return "rate_limited"
    if status >= 500 or status in (408, 425):
        return "transient"
    return "permanent"


def classify_wecom(http_status: int, body: object) -> AttemptResult:
    """A 200 is not success: the robot reports errors as HTTP 200 with a non-zero errcode."""
    kind = classify_http(http_status)
    if kind != "sent":
        return AttemptResult(kind, f"HTTP {http_status}", http_status=http_status)
    if not isinstance(body, dict) or not isinstance(body.get("errcode"), int):
        return AttemptResult("transient", "HTTP 200 without an errcode", http_status=http_status)
    errcode = body["errcode"]
    errmsg = str(body.get("errmsg", ""))[:200]
    detail = f"errcode {errcode}: {errmsg}"
    if errcode == WECOM_OK:
        return AttemptResult("sent", detail, errcode, http_status)
    if errcode == WECOM_FREQUENCY_LIMIT:
        return AttemptResult("rate_limited", detail, errcode, http_status)
    if errcode == WECOM_BUSY:
        return AttemptResult("transient", detail, errcode, http_status)
    # 93000 (invalid webhook key), 40008 (bad message type), 40058 (bad parameter)...: retrying
    # the same request cannot help; the notification is dead-lettered for a redelivery.
    return AttemptResult("permanent", detail, errcode, http_status)


@dataclass(frozen=True)
class Decision:
    action: Literal["sent", "retry", "dead"]
    delay: float = 0.0
    counts_as_failure: bool = False


def decide(
    result: AttemptResult,
    *,
    failures_so_far: int,
    max_retries: int,
    base: float,
    cap: float,
    rate_limited_min: float,
) -> Decision:
    """``failures_so_far`` counts earlier transient failures of this notification."""
    if result.kind == "sent":
        return Decision("sent")
    if result.kind == "permanent":
        return Decision("dead", counts_as_failure=True)
    if result.kind == "rate_limited":
        # 45009: WeCom counts a minute; waiting less only burns another attempt. Not a failure.
        return Decision("retry", delay=rate_limited_min)
    if failures_so_far >= max_retries:
        return Decision("dead", counts_as_failure=True)
    return Decision("retry", delay=min(cap, base * (2**failures_so_far)), counts_as_failure=True)
