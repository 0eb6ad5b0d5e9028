"""With the broker unreachable the append still succeeds, fast, and the sweep publishes later."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core import outbox
from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.contract.summarizer import Ping
from ragtasks_core.settings import Settings
from ragtasks_gateway.app import create_app
from ragtasks_summarizer.sweep import sweep
from tests.integration.helpers import auth
from tests.support.procs import free_port

TURN = [{"role": "user", "content": "word " * 60}, {"role": "assistant", "content": "reply " * 60}]


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP port that accepts connections and never says a word (a hung broker)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}//"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_append_succeeds_fast_with_broker_down_then_sweep_publishes(
    broker: str, silent_broker: str, make_settings: Callable[..., Settings], db: Any
) -> None:
    real = make_settings(
        summary_trigger_tokens=100,
        summary_keep_recent_messages=0,
        outbox_grace_seconds=0,
        outbox_sweep_interval_seconds=45,
        publish_timeout_seconds=1.0,
    )
    down_url = f"amqp://guest:guest@127.0.0.1:{free_port()}//" if broker == "refused" else silent_broker
    down = real.model_copy(update={"broker_url": down_url})
    timings = []
    with TestClient(create_app(down)) as client:
        assert client.get("/v1/sessions/warm-up/context", headers=auth()).status_code == 404
        for session in ("outage-1", "outage-2", "outage-3"):
            started = time.perf_counter()
            r = client.post(f"/v1/sessions/{session}/messages", json={"messages": TURN}, headers=auth())
            timings.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            assert r.json()["summary_task_id"]  # each crossed the threshold and tried to publish
        task_id = r.json()["summary_task_id"]
        # Asked for by hand, the summary is recorded too; 503 says when the sweep will have sent it.
        small = {"messages": [{"role": "user", "content": "hello"}]}
        appended = client.post("/v1/sessions/manual-1/messages", json=small, headers=auth()).json()
        assert appended["summary_task_id"] is None
        started = time.perf_counter()
        manual = client.post("/v1/sessions/manual-1/summarize", headers=auth())
        timings.append(time.perf_counter() - started)
        assert manual.status_code == 503 and manual.headers["Retry-After"] == "45", (manual.headers, manual.text)
        assert "will be published when it returns" in manual.json()["detail"]
        # A generic reliable publish is recorded, not lost.
        publisher = client.app.state.publisher  # type: ignore[attr-defined]
        started = time.perf_counter()
        ping_id, published = client.portal.call(  # type: ignore[union-attr]
            lambda: publisher.publish_reliably(TaskName.SUMMARIZER_PING, Ping(), db=client.app.state.db)  # type: ignore[attr-defined]
        )
        timings.append(time.perf_counter() - started)
    print(f"append/publish latency with the broker {broker}: {[round(t, 2) for t in timings]}")
    assert max(timings) < 4.0, timings  # publish_timeout_seconds=1.0 plus the append's own work
    pending = db.sessions.find_one({"_id": "outage-3"})["summary_pending"]
    assert pending["task_id"] == task_id and pending["published"] is False
    assert published is False
    assert db.outbox.find_one({"_id": ping_id})["published_at"] is None

    app = create_celery(real)
    try:
        sent: list[tuple[str, str]] = []

        def send(task: str, kwargs: dict[str, Any], tid: str, options: dict[str, Any]) -> None:
            outbox.send(app, task, kwargs, tid, **options)
            sent.append((task, tid))

        counts = sweep(db, real, send)
    finally:
        app.close()
    assert (TaskName.SUMMARIZE_SESSION.value, task_id) in sent and (TaskName.SUMMARIZER_PING.value, ping_id) in sent
    assert counts["unpublished"] == 4 and counts["outbox"] == 1, counts
    assert db.sessions.count_documents({"summary_pending.published": True}) == 4
    assert db.outbox.find_one({"_id": ping_id})["published_at"] is not None
