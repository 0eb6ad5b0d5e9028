"""Trigger one alert for the demo: a burst of empty retrievals reported through the gateway.

    python -m ragtasks_alerter.demo --gateway http://127.0.0.1:8000 --api-key dev-key [--kb demo-kb]

The empty-retrieval rule fires once for the KB (edge-triggered), the alerter groups it and the
message lands in the WeCom sink (``ragtasks_alerter.demo_sink``) after the group wait.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from ragtasks_core.alerting.rules import fingerprint


def trigger_empty_retrievals(
    gateway: str, api_key: str, *, kb_id: str = "demo-kb", count: int = 100, batch: int = 100
) -> list[dict[str, Any]]:
    """Report ``count`` empty retrievals for ``kb_id``; return the alerts the gateway raised."""
    raised: list[dict[str, Any]] = []
    with httpx.Client(base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {api_key}"}) as client:
        sent = 0
        while sent < count:
            n = min(batch, count - sent)
            events = [{"kb_id": kb_id, "query": f"demo question {sent + i}", "n_results": 0} for i in range(n)]
            response = client.post("/v1/retrieval-events", json={"events": events})
            response.raise_for_status()
            raised += response.json()["alerts"]
            sent += n
    return raised


def wait_delivered(gateway: str, api_key: str, fingerprint: str, timeout: float = 90) -> dict[str, Any] | None:
    """Poll the alert API until the alert with ``fingerprint`` has been delivered (or timeout)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {api_key}"}) as client:
        while time.monotonic() < deadline:
            for alert in client.get("/v1/alerts", params={"limit": 20}).json()["alerts"]:
                if alert["fingerprint"] == fingerprint and alert.get("delivery_state") in {"sent", "dead"}:
                    return dict(alert)
            time.sleep(1)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="trigger one empty-retrieval alert through the gateway")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="dev-key")
    parser.add_argument("--kb", default="demo-kb")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args(argv)
    raised = trigger_empty_retrievals(args.gateway, args.api_key, kb_id=args.kb, count=args.count)
    if raised:
        print(f"raised: {raised}; waiting for the group wait and the delivery...")
        alert = wait_delivered(args.gateway, args.api_key, fingerprint(args.kb))
        if alert is None or alert.get("delivery_state") != "sent":
            print("not delivered: see GET /v1/alerts?status=dead and the alerter's log")
            return 1
        last = alert["attempts"][-1] if alert.get("attempts") else {}
        print(
            f"delivered: {alert['title']!r} -> {last.get('channel')} ({last.get('detail')}); "
            "the sink's log shows the message (.run/logs/wecom-sink.log under make run)"
        )
    else:
        print("no new alert: the KB is already firing or cooling down (see RAGTASKS_EMPTY_RETRIEVAL_*)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
