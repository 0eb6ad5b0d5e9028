"""RabbitMQ's ``consumer_timeout`` cannot kill a long retry countdown.

Why quorum queues + Celery's native delayed delivery: with classic queues, a countdown/ETA task
is delivered at once and held *unacked* inside the worker until its time comes. RabbitMQ closes
the channel of a consumer that holds a delivery longer than ``consumer_timeout`` (30 min by
default) with ``PRECONDITION_FAILED``, so a long backoff -- or a ``Retry-After`` of an hour --
would kill the worker's channel and redeliver everything it held. With quorum queues, Celery
publishes a countdown through the broker's delay exchanges (TTL queues); the message waits in
the broker, not in the worker, and the worker only receives it when it is due.

The test lowers the broker-wide ``consumer_timeout`` to 5 s only while a worker starts (the value
is read when a channel opens, so only channels opened in that window get it; other engineers'
tests share this broker) and restores it at once. RabbitMQ 3.10 checks the timeout on a channel
"tick", every ``channel_tick_interval`` (60 s by default, re-read at every tick): it is set to
1 s for the test so a held delivery would be caught within ~6 s, then restored. A control
consumer, opened in the same window, holds one delivery unacked and must be closed by the broker:
that proves the lowered timeout is in force while the worker's 12 s countdown is running.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

import pika
import pika.exceptions

from tests.support.fake_openai import Reply
from tests.support.services import run_ctl

from .conftest import Rig, gaps, seed_session, wait_states

TIMEOUT_MS = 5000
COUNTDOWN = 12


def get_env(key: str) -> str:
    out = run_ctl("eval", f"application:get_env(rabbit, {key}).").strip()
    match = re.fullmatch(r"\{ok,(\d+)\}", out)
    assert match, f"unexpected {key}: {out!r}"
    return match.group(1)


def set_env(key: str, value: str) -> None:
    run_ctl("eval", f"application:set_env(rabbit, {key}, {value}).")


class HeldDelivery(threading.Thread):
    """A consumer that never acks its one delivery (the failure mode), on a channel opened now."""

    def __init__(self, broker_url: str) -> None:
        super().__init__(daemon=True)
        self.connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        self.channel = self.connection.channel()
        self.closed_after: float | None = None
        self.started = time.monotonic()
        self.reply_code: int | None = None

    def run(self) -> None:
        queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.basic_publish("", queue, b"held")
        self.channel.basic_consume(queue, lambda *args: None, auto_ack=False)
        self.channel._impl.add_on_close_callback(self._closed)  # the reason (reply code) is only here
        self.started = time.monotonic()
        try:
            while time.monotonic() - self.started < 40 and self.channel.is_open:
                self.connection.process_data_events(time_limit=0.5)
        finally:
            if self.connection.is_open:
                self.connection.close()

    def _closed(self, channel: Any, reason: Exception) -> None:
        self.closed_after = time.monotonic() - self.started
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            self.reply_code = reason.reply_code


def test_retry_countdown_outlasts_consumer_timeout(rig: Rig) -> None:
    env = rig.env()
    rig.llm.script_for("ct", Reply(503, retry_after=str(COUNTDOWN)))
    seed_session(rig.db, "ct-1", ["[[ct]] one.", "two.", "three."])
    previous_timeout, previous_tick = get_env("consumer_timeout"), get_env("channel_tick_interval")
    try:
        set_env("channel_tick_interval", "1000")
        set_env("consumer_timeout", str(TIMEOUT_MS))
        try:
            worker = rig.start_worker("summarizer", env, concurrency=1)
            control = HeldDelivery(env["RAGTASKS_BROKER_URL"])
        finally:
            set_env("consumer_timeout", previous_timeout)
        control.start()
        task_id = f"ct-{uuid.uuid4().hex[:8]}"
        rig.publish("ct-1", task_id)
        body = wait_states(rig.client(env), [task_id], timeout=60)[task_id]
        control.join(30)
    finally:
        set_env("channel_tick_interval", previous_tick)
        set_env("consumer_timeout", previous_timeout)

    # The control consumer was cut off: the 5 s timeout was really in force.
    assert control.reply_code == 406, control.reply_code
    assert control.closed_after is not None and control.closed_after < COUNTDOWN
    # ...while the worker's retry waited 12 s in the broker and then completed, once.
    assert body["state"] == "SUCCESS", body
    [gap] = gaps(rig.llm.arrivals("ct"))
    print(f"\ncontrol consumer closed after {control.closed_after:.1f}s; retry came {gap:.1f}s later")
    assert COUNTDOWN - 0.3 <= gap <= COUNTDOWN + 1.5
    assert "PRECONDITION_FAILED" not in worker.log_text()
    assert rig.db.sessions.find_one({"_id": "ct-1"})["summary_upto_seq"] == 2
