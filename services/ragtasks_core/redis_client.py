"""Every Redis client of ragtasks comes from here: a plain URL, or a master found through Sentinel.

The rate limiters, retrieval windows, the beat lock, the gateway's readiness probe and Celery's
result backend all read the same settings, so HA is configured once:

- ``redis://`` / ``rediss://`` / ``unix://``: that server (``redis.Redis.from_url``).
- ``redis+sentinel://[[user]:password@]host:26379[,host:26379...]/<master>[/<db>][?options]``
  (``rediss+sentinel://`` for TLS to the master): ask those sentinels for ``<master>``. The
  userinfo is the *master's* credentials; ``sentinel_password`` (query or
  ``RAGTASKS_REDIS_SENTINEL_PASSWORD``) is the sentinels' own. Options: ``socket_timeout``,
  ``socket_connect_timeout``.
- Celery's own ``sentinel://[:password@]host:26379/<db>;sentinel://...`` with the master named
  by ``RAGTASKS_REDIS_SENTINEL_MASTER``.
- ``RAGTASKS_REDIS_SENTINELS=host:26379,...`` + ``RAGTASKS_REDIS_SENTINEL_MASTER``: every
  ``redis://`` URL of ragtasks (``RAGTASKS_REDIS_URL``, ``RAGTASKS_RESULT_BACKEND``) keeps its
  password and db number, but its master is found through those sentinels (its host:port are
  not used).

A Sentinel-managed client reconnects to the new master after a failover: it asks the sentinels
again on every new connection, a connection still on the demoted master turns its READONLY error
into a reconnect, and it retries a failed command like a plain client does (redis-py's default:
10 tries, backoff 10 ms doubling up to 1 s, ~5 s in all), which covers a failover that sentinels
start within a few seconds (``down-after-milliseconds``); a longer one surfaces as a
``ConnectionError`` the caller retries as it would any Redis outage.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from .settings import Settings

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS to the master
CELERY_SENTINEL_SCHEME = "sentinel"
DEFAULT_SENTINEL_PORT = 26379
# A dead sentinel must not stall a call: each is asked in turn, with a short deadline.
SENTINEL_SOCKET_TIMEOUT = 1.0
_FLOAT_OPTIONS = ("socket_timeout", "socket_connect_timeout")


@dataclass(frozen=True)
class SentinelTarget:
    """A Redis master found through Sentinel, and how to log in to it."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False
    options: dict[str, float] = field(default_factory=dict)

    def master_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"db": self.db, "username": self.username, "password": self.password}
        # What redis.Redis() gets by default but a client built on a Sentinel pool does not.
        kwargs["retry"] = Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0), retries=10)
        if self.tls:
            kwargs["ssl"] = True
        return {**kwargs, **self.options}

    def sentinel_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
            "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT,
        }
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def parse_hosts(text: str, *, what: str) -> tuple[tuple[str, int], ...]:
    """``"h1:26379,h2"`` (``[::1]:26379`` for IPv6) into ``((h1, 26379), (h2, 26379))``."""
    hosts: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = urlsplit(f"//{item}")
        try:
            port = parts.port or DEFAULT_SENTINEL_PORT
        except ValueError as exc:
            raise ValueError(f"{what}: bad port in {item!r}") from exc
        if not parts.hostname:
            raise ValueError(f"{what}: no host in {item!r}")
        hosts.append((parts.hostname, port))
    if not hosts:
        raise ValueError(f"{what}: names no sentinel (expected host:port[,host:port...])")
    return tuple(hosts)


def _db(text: str, what: str) -> int:
    try:
        return int(text or 0)
    except ValueError as exc:
        raise ValueError(f"{what}: the database must be a number, not {text!r}") from exc


def _options(query: str, what: str) -> tuple[dict[str, float], str | None]:
    options: dict[str, float] = {}
    sentinel_password: str | None = None
    for name, value in parse_qsl(query):
        if name == "sentinel_password":
            sentinel_password = value
        elif name in _FLOAT_OPTIONS:
            options[name] = float(value)
        else:
            raise ValueError(f"{what}: unknown option {name!r} (known: sentinel_password, {', '.join(_FLOAT_OPTIONS)})")
    return options, sentinel_password


def _userinfo(netloc: str) -> tuple[str | None, str | None, str]:
    """(username, password, hosts) of ``[user[:password]@]hosts`` (a comma list urlsplit cannot parse)."""
    if "@" not in netloc:
        return None, None, netloc
    info, _, hosts = netloc.rpartition("@")
    user, _, password = info.partition(":")
    return unquote(user) or None, unquote(password) or None, hosts


def parse_sentinel_url(url: str, settings: Settings) -> SentinelTarget:
    """A ``redis+sentinel://`` URL (see the module docstring)."""
    what = "a redis+sentinel:// URL"
    scheme, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    username, password, hosts = _userinfo(netloc)
    master, _, db = path.strip("/").partition("/")
    if not master:
        raise ValueError(f"{what} must name the master: redis+sentinel://host:26379/<master>[/<db>]")
    options, sentinel_password = _options(query, what)
    secret = settings.redis_sentinel_password
    return SentinelTarget(
        sentinels=parse_hosts(hosts, what=what),
        master=unquote(master),
        db=_db(db, what),
        username=username,
        password=password,
        sentinel_password=sentinel_password or (secret.get_secret_value() if secret else None),
        tls=SENTINEL_SCHEMES[scheme.lower()],
        options=options,
    )


def _master_name(settings: Settings, what: str) -> str:
    if not settings.redis_sentinel_master:
        raise ValueError(f"{what} needs RAGTASKS_REDIS_SENTINEL_MASTER (the name the sentinels monitor)")
    return settings.redis_sentinel_master


def _from_plain(url: str, sentinels: tuple[tuple[str, int], ...], settings: Settings) -> SentinelTarget:
    """A ``redis://``/``sentinel://`` entry's credentials and db, with the master found via ``sentinels``."""
    parts = urlsplit(url)
    secret = settings.redis_sentinel_password
    return SentinelTarget(
        sentinels=sentinels,
        master=_master_name(settings, "Redis Sentinel"),
        db=_db(parts.path.strip("/"), "a Redis URL"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sentinel_password=secret.get_secret_value() if secret else None,
        tls=parts.scheme == "rediss",
    )


def target(settings: Settings, url: str | None = None) -> str | SentinelTarget:
    """What ``url`` (default: ``RAGTASKS_REDIS_URL``, else the result backend) points at."""
    url = url or settings.effective_redis_url
    scheme = url.partition("://")[0].lower()
    if scheme in SENTINEL_SCHEMES:
        return parse_sentinel_url(url, settings)
    if scheme == CELERY_SENTINEL_SCHEME:  # sentinel://[:pw@]h1:26379/0;sentinel://[:pw@]h2:26379/0
        entries = [part.strip() for part in url.split(";") if part.strip()]
        netlocs = ",".join(urlsplit(entry).netloc.rpartition("@")[2] for entry in entries)
        return _from_plain(entries[0], parse_hosts(netlocs, what="a sentinel:// URL"), settings)
    if settings.redis_sentinels and scheme in ("redis", "rediss"):
        sentinels = parse_hosts(",".join(settings.redis_sentinels), what="RAGTASKS_REDIS_SENTINELS")
        return _from_plain(url, sentinels, settings)
    return url


def sync_client(settings: Settings, url: str | None = None, **kwargs: Any) -> redis.Redis:
    """A client of ``url`` (default: ``RAGTASKS_REDIS_URL``), decoding replies to ``str``."""
    kwargs.setdefault("decode_responses", True)
    where = target(settings, url)
    if isinstance(where, str):
        return redis.Redis.from_url(where, **kwargs)
    sentinel = Sentinel(list(where.sentinels), sentinel_kwargs=where.sentinel_kwargs())
    return sentinel.master_for(where.master, redis_class=redis.Redis, **{**where.master_kwargs(), **kwargs})


def async_client(settings: Settings, url: str | None = None, **kwargs: Any) -> aioredis.Redis:
    """The asyncio twin of :func:`sync_client` (the gateway's readiness probe)."""
    where = target(settings, url)
    if isinstance(where, str):
        return aioredis.from_url(where, **kwargs)
    sentinel = AsyncSentinel(list(where.sentinels), sentinel_kwargs=where.sentinel_kwargs())
    master_kwargs = {k: v for k, v in where.master_kwargs().items() if k != "retry"}  # a sync Retry
    return sentinel.master_for(where.master, redis_class=aioredis.Redis, **{**master_kwargs, **kwargs})


def celery_result_backend(settings: Settings) -> dict[str, Any]:
    """Celery's result-backend settings for ``RAGTASKS_RESULT_BACKEND`` (``app.conf`` keys).

    A Sentinel-managed Redis becomes Celery's ``sentinel://h1:p1/db;sentinel://h2:p2/db`` with
    ``master_name`` (and the sentinels' password) in ``result_backend_transport_options``.
    """
    url = settings.result_backend
    scheme = url.partition("://")[0].lower()
    if scheme not in (*SENTINEL_SCHEMES, CELERY_SENTINEL_SCHEME, "redis", "rediss"):
        return {"result_backend": url}  # not Redis at all (e.g. a database backend): as given
    where = target(settings, url)
    if isinstance(where, str):
        return {"result_backend": url}
    userinfo = ""
    if where.password:
        userinfo = f"{quote(where.username or '', safe='')}:{quote(where.password, safe='')}@"
    hosts = ";".join(f"sentinel://{userinfo}{_netloc(host, port)}/{where.db}" for host, port in where.sentinels)
    conf: dict[str, Any] = {
        "result_backend": hosts,
        "result_backend_transport_options": {"master_name": where.master, "sentinel_kwargs": where.sentinel_kwargs()},
    }
    if where.tls:  # Celery's switch to SentinelManagedSSLConnection; certificates verified
        conf["redis_backend_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return conf


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
