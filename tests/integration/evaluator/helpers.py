"""Helpers of the evaluator's integration tests."""

from __future__ import annotations

import json
from typing import Any

from kombu import Connection

from ragtasks_evaluator.corpus import lee_chunks
from tests.integration.helpers import auth
from tests.support.procs import wait_until


def load_kb(client: Any, kb_id: str, chunks: list[dict[str, str]], batch: int = 250) -> None:
    for start in range(0, len(chunks), batch):
        r = client.post(f"/v1/kbs/{kb_id}/chunks", json={"chunks": chunks[start : start + batch]}, headers=auth())
        assert r.status_code == 200, r.text


def start_evaluation(client: Any, kb_id: str, sample_size: int, seed: int, k: list[int] | None = None) -> str:
    body = {"kb_id": kb_id, "sample_size": sample_size, "k": k or [1, 5, 10], "seed": seed}
    r = client.post("/v1/evaluations", json=body, headers=auth())
    assert r.status_code == 202, r.text
    return str(r.json()["evaluation_id"])


def wait_evaluation(
    client: Any, evaluation_id: str, timeout: float = 90, *, appears: bool = False, rows: bool = True
) -> dict[str, Any]:
    """Poll until done or failed; ``appears``: the evaluation may not exist yet (nightly creates it later).

    ``rows``: the report's rows, read page by page from ``/rows``, are added as ``details``.
    """

    def current() -> dict[str, Any]:
        r = client.get(f"/v1/evaluations/{evaluation_id}", headers=auth())
        if appears and r.status_code == 404:
            return {}
        assert r.status_code == 200, r.text
        return dict(r.json())

    body = wait_until(current, timeout, 0.3, f"evaluation {evaluation_id} to finish", until=_finished)
    if rows and "details" not in body:
        body["details"] = all_rows(client, evaluation_id)
    return body


def _finished(body: dict[str, Any]) -> bool:
    alert = body.get("alert") or {}
    # The report is written first, then its recall-drop alert is published: wait for both.
    return body.get("status") in ("done", "failed") and not (alert.get("fired") and not alert.get("published"))


def all_rows(client: Any, evaluation_id: str) -> list[dict[str, Any]]:
    """Every row of a report, through the paged ``GET /v1/evaluations/{id}/rows``."""
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        r = client.get(f"/v1/evaluations/{evaluation_id}/rows", params={"offset": offset, "limit": 500}, headers=auth())
        assert r.status_code == 200, r.text
        found.extend(r.json()["rows"])
        offset = r.json()["next_offset"]
    return found


def drain_tasks(broker_url: str, queue: str, task: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Take the messages of ``task`` from ``queue`` (kwargs of each), waiting up to ``timeout`` for
    the first; other messages go back to the queue."""
    found: list[dict[str, Any]] = []
    others: list[int] = []
    with Connection(broker_url) as conn:
        channel = conn.channel()

        def take_waiting() -> list[dict[str, Any]]:
            # Other tasks' messages stay unacked until the end, so the next get reaches past them.
            while (message := channel.basic_get(queue=queue, no_ack=False)) is not None:
                if message.headers.get("task") != task:
                    others.append(message.delivery_tag)
                    continue
                _args, kwargs, _embed = json.loads(message.body)
                found.append(kwargs)
                channel.basic_ack(message.delivery_tag)
            return found

        try:
            return wait_until(take_waiting, timeout, 0.2, f"a {task} message on {queue}")
        finally:
            for tag in others:
                channel.basic_reject(tag, requeue=True)
            channel.close()


LEE = lee_chunks()
