"""The pika tools' broker-URL parser reads every form kombu (and so Celery) reads, the same way.

kombu is the reference: for each URL, what ``kombu.Connection`` resolves (host, port, vhost,
user, password, TLS) must be what ``ragtasks_publisher.urls`` hands pika.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import pika
import pytest
from kombu import Connection
from pika.credentials import ExternalCredentials, PlainCredentials

from ragtasks_publisher import TaskPublisher
from ragtasks_publisher.urls import BrokerAddress, BrokerURLError, parse_broker_url, pika_parameters
from tests.unit.publishing.fake_amqp import FakeAmqp

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672//"  # RAGTASKS_BROKER_URL's default


def kombu_view(url: str) -> dict[str, Any]:
    """What kombu connects to for one URL (its transport's defaults filled in)."""
    with Connection(url) as conn:
        info = conn.info()
        return {
            "host": "127.0.0.1" if info["hostname"] == "localhost" else info["hostname"],  # pyamqp does this
            "port": info["port"],
            "virtual_host": info["virtual_host"],
            "userid": info["userid"],
            "password": info["password"],
            "tls": bool(info["ssl"]),
        }


def ours(address: BrokerAddress) -> dict[str, Any]:
    return {
        "host": address.host,
        "port": address.port,
        "virtual_host": address.virtual_host,
        "userid": address.userid,
        "password": address.password,
        "tls": address.tls,
    }


SINGLE = [
    DEFAULT_URL,
    "amqp://guest:guest@127.0.0.1:5672/%2F",
    "amqp://guest:guest@127.0.0.1:5672",
    "amqp://guest:guest@127.0.0.1:5672/",
    "amqp://app:s3cret@rabbit.internal:5673/orders",
    "amqp://app:p%40ss%3Aw%2Frd@rabbit/a%2Fb",  # percent-encoded password and vhost
    "amqp://rabbit.internal",  # kombu's defaults: guest/guest, 5672, "/"
    "amqp://localhost//",
    "amqp://user@[::1]:5673/v",  # IPv6; no password: kombu's default
    "pyamqp://u:p@h/v",
    "amqps://u:p@broker.example.com//",  # TLS, port 5671
    "amqps://u:p@broker.example.com:5999/prod",
]


@pytest.mark.parametrize("url", SINGLE)
def test_each_form_resolves_as_kombu_resolves_it(url: str) -> None:
    [address] = parse_broker_url(url)
    assert ours(address) == kombu_view(url)


def test_the_default_url_is_the_default_vhost_where_plain_pika_reads_an_empty_one() -> None:
    assert pika.URLParameters(DEFAULT_URL).virtual_host == ""  # the bug: "vhost not found"
    [params] = pika_parameters(DEFAULT_URL)
    assert (params.host, params.port, params.virtual_host) == ("127.0.0.1", 5672, "/")
    assert isinstance(params.credentials, PlainCredentials)
    assert (params.credentials.username, params.credentials.password) == ("guest", "guest")
    assert params.ssl_options is None
    [slash] = pika_parameters("amqp://guest:guest@127.0.0.1:5672/%2F")
    assert slash.virtual_host == "/"


def test_failover_list_keeps_order_and_each_entry_reads_like_kombu() -> None:
    url = "amqp://a:pa@h1:1//;amqp://b:pb@h2:5672/v2;amqps://c:pc@h3/v3"
    entries = url.split(";")
    addresses = parse_broker_url(url)
    assert [ours(a) for a in addresses] == [kombu_view(entry) for entry in entries]
    with Connection(url) as conn:  # kombu: the first entry, then the alternates in order
        assert conn.alt == entries
        assert (conn.hostname, conn.port, conn.userid) == ("h1", 1, "a")
    params = pika_parameters(url)
    assert [(p.host, p.port, p.virtual_host) for p in params] == [
        ("h1", 1, "/"),
        ("h2", 5672, "v2"),
        ("h3", 5671, "v3"),
    ]
    assert [p.ssl_options is not None for p in params] == [False, False, True]
    assert len(pika_parameters(" amqp://h1//; amqp://h2// ;")) == 2  # blanks around entries are ignored


def test_publisher_moves_past_a_dead_first_host_within_its_connect_deadline() -> None:
    # The first host takes the TCP connection and never answers: the publisher's connect deadline
    # applies to every entry of the list, so the second host gets its turn in about that long.
    with FakeAmqp("mute") as dead, FakeAmqp("confirm") as alive:
        started = time.monotonic()
        with TaskPublisher(f"{dead.url};{alive.url}", attempts=1, connect_timeout=0.5) as pub:
            pub.publish_ping("summarizer")
        elapsed = time.monotonic() - started
    assert (dead.connections, alive.connections, alive.publishes) == (1, 1, 1)
    assert elapsed < 3.0, elapsed  # 2 * 0.5 s for the dead host's connect + handshake, at most


def test_amqps_verifies_the_broker_by_default() -> None:
    [params] = pika_parameters("amqps://u:p@broker.example.com//")
    options = params.ssl_options
    assert options is not None and options.server_hostname == "broker.example.com"
    assert options.context.verify_mode == ssl.CERT_REQUIRED and options.context.check_hostname


@pytest.mark.parametrize(
    ("query", "verify", "check_hostname"),
    [
        ("ssl_cert_reqs=none", ssl.CERT_NONE, False),
        ("ssl_cert_reqs=CERT_OPTIONAL", ssl.CERT_OPTIONAL, True),
        ("ssl_cert_reqs=required&ssl_check_hostname=false", ssl.CERT_REQUIRED, False),
    ],
)
def test_kombu_tls_options_shape_the_context(query: str, verify: ssl.VerifyMode, check_hostname: bool) -> None:
    [params] = pika_parameters(f"amqps://u:p@h//?{query}")
    assert params.ssl_options is not None
    assert params.ssl_options.context.verify_mode == verify
    assert params.ssl_options.context.check_hostname is check_hostname


def test_tls_files_that_cannot_be_read_are_a_clear_error() -> None:
    with pytest.raises(BrokerURLError, match="cannot load its TLS files"):
        pika_parameters("amqps://u:p@h//?ssl_ca_certs=/nonexistent/ca.pem")
    with pytest.raises(BrokerURLError, match="need an amqps:// URL"):
        parse_broker_url("amqp://u:p@h//?ssl_cert_reqs=none")


def test_query_options_reach_pika_and_win_over_the_tools_defaults() -> None:
    url = "amqp://u:p@h//?heartbeat=15&connect_timeout=2.5&insist=1"
    with Connection(url) as conn:  # kombu reads the same names
        assert (conn.heartbeat, conn.connect_timeout) == (15.0, "2.5")
    [params] = pika_parameters(url, socket_timeout=9.0, heartbeat=60, blocked_connection_timeout=7.0)
    assert params.heartbeat == 15  # the URL's, not the tool's
    assert params.socket_timeout == 2.5  # kombu's connect_timeout
    assert params.blocked_connection_timeout == 7.0  # the tool's default: the URL says nothing
    [plain] = pika_parameters("amqp://u:p@h//", socket_timeout=9.0)
    assert plain.socket_timeout == 9.0


def test_options_kombu_refuses_are_refused_too() -> None:
    url = "amqp://u:p@h//?connection_attempts=3"
    with pytest.raises(TypeError, match="connection_attempts"):
        Connection(url)  # so Celery would not start with it
    with pytest.raises(BrokerURLError, match="unknown option 'connection_attempts': kombu"):
        parse_broker_url(url)


def test_external_login() -> None:
    [params] = pika_parameters("amqps://h//?login_method=EXTERNAL")
    assert isinstance(params.credentials, ExternalCredentials)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h:6379/0", "must start with amqp:// or amqps://"),
        ("127.0.0.1:5672", "must start with amqp:// or amqps://"),
        ("amqp://u:p@h//?heartbeet=10", "unknown option 'heartbeet'"),
        ("amqp://u:p@h//?connect_timeout=", "connect_timeout='' is not a number"),
        ("amqp://u:p@h//?heartbeat=soon", "heartbeat='soon' is not a number"),
        ("amqp://u:p@h:99999//", "bad port"),
        ("amqp://u:p@h//?login_method=AMQPLAIN", "login_method must be PLAIN or EXTERNAL"),
        (" ; ", "empty"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, message: str) -> None:
    with pytest.raises(BrokerURLError, match=message) as caught:
        parse_broker_url(url.replace("u:p@", "u:hunter2@"))
    assert "hunter2" not in str(caught.value)
