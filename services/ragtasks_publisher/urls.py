"""Broker URLs as kombu (and so Celery) reads them, turned into pika connection parameters.

``RAGTASKS_BROKER_URL`` is written for Celery; every pika-based tool (this package, ``ragtasks
dlq``, ``ragtasks publish``) reads the same URL here, so it means the same thing everywhere:

- ``amqp://user:pass@host:5672//`` and ``.../%2F``: the default vhost ``/`` (pika alone reads ``//``
  as an empty vhost, which RabbitMQ refuses); ``.../name``: vhost ``name``; no path: ``/``.
  Everything after the first ``/`` is the vhost, percent-decoded (``/a%2Fb`` is ``a/b``).
- Missing parts take kombu's defaults: ``guest``/``guest``, host ``localhost`` (read as
  ``127.0.0.1``, as kombu does), port 5672, or 5671 for ``amqps://``.
- ``amqps://``: TLS (``pika.SSLOptions``), verified against the system CAs and the host name
  unless the query says otherwise.
- ``url1;url2;...``: failover: each host is tried in order (pika's ``BlockingConnection`` takes
  the list). Each entry is a whole URL; what it omits takes the defaults above, not the first
  entry's values.
- Query options, the ones kombu accepts (Celery refuses a URL with any other: the same URL must
  work for both): ``heartbeat`` (seconds), ``connect_timeout`` (seconds, pika's socket timeout),
  ``login_method`` (``PLAIN`` or ``EXTERNAL``), ``insist`` (obsolete, ignored), and the TLS
  options ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``
  (``required``/``optional``/``none`` or ``CERT_*``) and ``ssl_check_hostname``. pika's own
  options (``connection_attempts``...) are refused with a clear error, as kombu would refuse them;
  each tool sets its own attempts and deadlines.

Standard library and pika only: producers that are not ragtasks can copy this package.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pika
from pika.credentials import ExternalCredentials, PlainCredentials

SCHEMES = {"amqp": False, "pyamqp": False, "amqps": True, "pyamqps": True}  # scheme -> TLS
DEFAULT_PORT, DEFAULT_TLS_PORT = 5672, 5671
_CERT_REQS = {
    "required": ssl.CERT_REQUIRED,
    "optional": ssl.CERT_OPTIONAL,
    "none": ssl.CERT_NONE,
    "cert_required": ssl.CERT_REQUIRED,
    "cert_optional": ssl.CERT_OPTIONAL,
    "cert_none": ssl.CERT_NONE,
}
# kombu's query options -> the ConnectionParameters attribute each sets, and how its text is read.
_PIKA_OPTIONS: dict[str, tuple[str, Any]] = {
    "heartbeat": ("heartbeat", lambda text: round(float(text))),
    "connect_timeout": ("socket_timeout", float),
}
_TLS_OPTIONS = {"ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname"}
_OTHER_OPTIONS = {"login_method", "insist"}


class BrokerURLError(ValueError):
    """The broker URL cannot be used (names the entry and the reason; never the password)."""


@dataclass(frozen=True)
class BrokerAddress:
    """One entry of a broker URL, with kombu's defaults filled in."""

    host: str
    port: int
    virtual_host: str
    userid: str
    password: str = field(repr=False)
    tls: bool
    options: Mapping[str, Any] = field(default_factory=dict)  # ConnectionParameters attribute -> value
    tls_options: Mapping[str, str] = field(default_factory=dict)
    login_method: str = "PLAIN"


def _redacted(entry: str) -> str:
    parts = urlsplit(entry)
    if parts.password is None:
        return entry
    return entry.replace(f":{parts.password}@", ":***@", 1)


def _options(query: str, where: str) -> tuple[dict[str, Any], dict[str, str], str]:
    options: dict[str, Any] = {}
    tls: dict[str, str] = {}
    login_method = "PLAIN"
    for name, text in parse_qsl(query, keep_blank_values=True):
        if name in _PIKA_OPTIONS:
            attribute, kind = _PIKA_OPTIONS[name]
            try:
                options[attribute] = kind(text)
            except ValueError as exc:
                raise BrokerURLError(f"{where}: option {name}={text!r} is not a number") from exc
        elif name in _TLS_OPTIONS:
            tls[name] = text
        elif name == "login_method":
            login_method = text.upper()
            if login_method not in ("PLAIN", "EXTERNAL"):
                raise BrokerURLError(f"{where}: login_method must be PLAIN or EXTERNAL, not {text!r}")
        elif name != "insist":  # insist: an AMQP 0-8 relic kombu still accepts; nothing to do
            known = ", ".join(sorted({*_PIKA_OPTIONS, *_TLS_OPTIONS, *_OTHER_OPTIONS}))
            raise BrokerURLError(
                f"{where}: unknown option {name!r}: kombu (and so Celery) would refuse it (known: {known})"
            )
    return options, tls, login_method


def _port(parts: Any, where: str) -> int | None:
    try:
        return int(parts.port) if parts.port is not None else None
    except ValueError as exc:  # urlsplit raises on a port that is not a number or out of range
        raise BrokerURLError(f"{where}: bad port") from exc


def parse_entry(entry: str) -> BrokerAddress:
    """One ``amqp[s]://`` URL (no ``;``) as kombu reads it."""
    where = f"broker URL {_redacted(entry)!r}"
    scheme, sep, rest = entry.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise BrokerURLError(f"{where}: must start with amqp:// or amqps://")
    tls = SCHEMES[scheme.lower()]
    # As kombu does: read the rest with http semantics, so the path is everything after host[:port].
    parts = urlsplit(f"http://{rest}")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    host = unquote(parts.hostname or "") or "localhost"
    options, tls_options, login_method = _options(parts.query, where)
    if tls_options and not tls:
        raise BrokerURLError(f"{where}: ssl_* options need an amqps:// URL")
    return BrokerAddress(
        host="127.0.0.1" if host == "localhost" else host,  # kombu's pyamqp transport does the same
        port=_port(parts, where) or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        virtual_host=unquote(path) or "/",
        userid=unquote(parts.username or "") or "guest",
        password=unquote(parts.password or "") or "guest",
        tls=tls,
        options=options,
        tls_options=tls_options,
        login_method=login_method,
    )


def parse_broker_url(url: str) -> list[BrokerAddress]:
    """Every entry of a (possibly ``;``-separated failover) broker URL, in order."""
    entries = [part.strip() for part in url.split(";") if part.strip()]
    if not entries:
        raise BrokerURLError("the broker URL is empty")
    return [parse_entry(entry) for entry in entries]


def _ssl_context(address: BrokerAddress) -> ssl.SSLContext:
    opts = address.tls_options
    try:
        context = ssl.create_default_context(cafile=opts.get("ssl_ca_certs") or None)
        if opts.get("ssl_certfile"):
            context.load_cert_chain(opts["ssl_certfile"], opts.get("ssl_keyfile") or None)
    except (OSError, ssl.SSLError) as exc:  # a missing or unreadable file names itself here
        raise BrokerURLError(f"broker URL for {address.host}: cannot load its TLS files: {exc}") from exc
    reqs_text = opts.get("ssl_cert_reqs")
    reqs = _CERT_REQS.get((reqs_text or "required").lower())
    if reqs is None:
        raise BrokerURLError(f"ssl_cert_reqs must be one of required, optional, none; not {reqs_text!r}")
    # check_hostname must be off before verify_mode may become CERT_NONE.
    context.check_hostname = reqs != ssl.CERT_NONE and opts.get("ssl_check_hostname", "true").lower() != "false"
    context.verify_mode = reqs
    return context


def to_pika(address: BrokerAddress, defaults: Mapping[str, Any] | None = None) -> pika.ConnectionParameters:
    """``ConnectionParameters`` for one entry: the tool's ``defaults``, then what the URL says."""
    credentials: ExternalCredentials | PlainCredentials
    if address.login_method == "EXTERNAL":
        credentials = ExternalCredentials()
    else:
        credentials = PlainCredentials(address.userid, address.password)
    params = pika.ConnectionParameters(
        host=address.host, port=address.port, virtual_host=address.virtual_host, credentials=credentials
    )
    if address.tls:
        params.ssl_options = pika.SSLOptions(_ssl_context(address), server_hostname=address.host)
    for attribute, value in {**(defaults or {}), **address.options}.items():
        setattr(params, attribute, value)
    return params


def pika_parameters(url: str, **defaults: Any) -> list[pika.ConnectionParameters]:
    """``pika.BlockingConnection(pika_parameters(url))`` connects to the first entry that answers.

    ``defaults`` (``ConnectionParameters`` attributes, e.g. ``socket_timeout=3``) apply where the
    URL's query does not set the same option: an option written in the URL wins, as in kombu.
    """
    return [to_pika(address, defaults) for address in parse_broker_url(url)]
