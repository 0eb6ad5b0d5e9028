"""The pika publisher's deadlines and bounded retries, against servers that misbehave on purpose."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from ragtasks_publisher import PublishFailed, TaskPublisher
from tests.unit.publishing.fake_amqp import FakeAmqp


def _refused_url() -> str:
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


def test_refused_port_fails_after_the_attempts_within_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ragtasks_publisher.client")
    started = time.monotonic()
    with (
        TaskPublisher(_refused_url(), attempts=3, retry_delay=0.1, connect_timeout=0.5) as pub,
        pytest.raises(PublishFailed, match="after 3 attempts") as failed,
    ):
        pub.publish_ping("summarizer")
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed  # 0.1 + 0.2 s of back-off, refusals are immediate
    retries = [r for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert [r.getMessage().split("(attempt ")[1][:3] for r in retries] == ["1/3", "2/3"]
    assert "AMQPConnectionError" in str(failed.value) or "Connection" in str(failed.value)


def test_mute_broker_is_bounded_by_the_connect_deadline() -> None:
    with FakeAmqp("mute") as broker:
        started = time.monotonic()
        with (
            TaskPublisher(broker.url, attempts=2, retry_delay=0.1, connect_timeout=0.4) as pub,
            pytest.raises(PublishFailed),
        ):
            pub.publish_ping("summarizer")
        elapsed = time.monotonic() - started
    assert broker.connections == 2
    assert elapsed < 2 * 0.8 + 0.1 + 2.0, elapsed  # two handshake deadlines + back-off, generous slack


def test_a_confirm_that_never_comes_is_a_deadline_not_a_hang() -> None:
    with FakeAmqp("silent") as broker:
        started = time.monotonic()
        with (
            TaskPublisher(broker.url, attempts=2, retry_delay=0.1, confirm_timeout=0.5) as pub,
            pytest.raises(PublishFailed, match=r"no publisher confirm within 0\.5s"),
        ):
            pub.publish_ping("summarizer")
        elapsed = time.monotonic() - started
    assert broker.publishes == 2 and broker.connections == 2  # each attempt published, then gave up
    assert 1.0 <= elapsed < 4.0, elapsed


def test_confirmed_publishes_reuse_the_connection_and_the_deadline_is_disarmed() -> None:
    with FakeAmqp("confirm") as broker, TaskPublisher(broker.url, confirm_timeout=0.3) as pub:
        first = pub.publish_ping("evaluator", task_id="t-1")
        time.sleep(0.6)  # past the confirm deadline of the first publish: it must not fire now
        pub._connection.process_data_events(0.1)  # type: ignore[union-attr]
        second = pub.publish_summarize("chat-1")
        assert first == "t-1" and second
        assert broker.publishes == 2 and broker.connections == 1
