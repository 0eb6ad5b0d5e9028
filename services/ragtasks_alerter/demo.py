"""Trigger one alert for the demo: a burst of empty retrievals reported through the gateway.

    python -m ragtasks_alerter.demo --gateway http://127.0.0.1:8000 --api-key dev-key [--kb demo-kb]

The empty-retrieval rule fires once for the KB (edge-triggered), the alerter groups it and the
message lands in the WeCom sink (``ragtasks_alerter.demo_sink``) after the group wait.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="trigger one empty-retrieval alert through the gateway")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="dev-key")
    parser.add_argument("--kb", default="demo-kb")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args(argv)
    raised = trigger_empty_retrievals(args.gateway, args.api_key, kb_id=args.kb, count=args.count)
    if raised:
        print(f"raised: {raised} -- the message reaches the sink after the group wait")
    else:
        print("no new alert: the KB is already firing or cooling down (see RAGTASKS_EMPTY_RETRIEVAL_*)")


if __name__ == "__main__":
    main()
