"""How ``ragtasks_core.redis_client`` reads each way of naming a Sentinel-managed Redis (no server needed;
``test_sentinel_failover.py`` runs the same settings against a real Sentinel)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ragtasks_core.redis_client import SentinelTarget, celery_result_backend, target
from ragtasks_core.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(**values)


def test_redis_sentinel_url() -> None:
    url = "redis+sentinel://app:p%40ss@s1:26380,[::1]:26381,s3/cache-master/3?sentinel_password=sp&socket_timeout=2"
    where = target(settings(redis_url=url))
    assert where == SentinelTarget(
        sentinels=(("s1", 26380), ("::1", 26381), ("s3", 26379)),
        master="cache-master",
        db=3,
        username="app",
        password="p@ss",
        sentinel_password="sp",
        options={"socket_timeout": 2.0},
    )
    assert where.sentinel_kwargs()["password"] == "sp"
    tls = target(settings(redis_url="rediss+sentinel://s1/m"))
    assert isinstance(tls, SentinelTarget) and tls.tls and tls.master_kwargs()["ssl"] is True and tls.db == 0


def test_separate_sentinel_settings_keep_the_urls_password_and_db() -> None:
    base = {"redis_sentinels": "s1:26379, s2:26380", "redis_sentinel_master": "m", "redis_sentinel_password": "sp"}
    where = target(settings(redis_url="redis://:secret@ignored:6379/5", **base))
    assert isinstance(where, SentinelTarget)
    assert (where.sentinels, where.master, where.db, where.password) == (
        (("s1", 26379), ("s2", 26380)),
        "m",
        5,
        "secret",
    )
    assert where.sentinel_password == "sp"
    # The result backend (redis://) goes through the same sentinels: Celery's sentinel:// form.
    conf = celery_result_backend(settings(result_backend="redis://:secret@ignored:6379/1", **base))
    assert conf["result_backend"] == "sentinel://:secret@s1:26379/1;sentinel://:secret@s2:26380/1"
    assert conf["result_backend_transport_options"]["master_name"] == "m"
    assert conf["result_backend_transport_options"]["sentinel_kwargs"]["password"] == "sp"


def test_celery_style_sentinel_backend_and_plain_urls() -> None:
    s = settings(result_backend="sentinel://:pw@s1:26379/2;sentinel://:pw@s2:26379/2", redis_sentinel_master="m")
    where = target(s)  # RAGTASKS_REDIS_URL unset: the result backend's Redis
    assert isinstance(where, SentinelTarget)
    assert (where.sentinels, where.db, where.password) == ((("s1", 26379), ("s2", 26379)), 2, "pw")
    assert celery_result_backend(s)["result_backend_transport_options"]["master_name"] == "m"
    plain = settings(redis_url="redis://127.0.0.1:6379/4")
    assert target(plain) == "redis://127.0.0.1:6379/4"
    assert celery_result_backend(plain) == {"result_backend": "redis://127.0.0.1:6379/0"}
    conf = celery_result_backend(settings(result_backend="redis+sentinel://:pw@[::1]:26379/m/1"))
    assert conf["result_backend"] == "sentinel://:pw@[::1]:26379/1"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"redis_url": "redis+sentinel://s1:26379"}, "must name the master"),
        ({"redis_url": "redis+sentinel://s1:26379/m/zero"}, "must be a number"),
        ({"redis_url": "redis+sentinel://s1:26379/m?retries=3"}, "unknown option 'retries'"),
        ({"redis_url": "redis+sentinel:///m"}, "names no sentinel"),
        ({"redis_url": "redis+sentinel://s1:port/m"}, "bad port"),
        ({"result_backend": "sentinel://s1:26379/0"}, "RAGTASKS_REDIS_SENTINEL_MASTER"),
    ],
)
def test_bad_sentinel_settings_say_what_is_wrong(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        target(settings(**values))


def test_sentinels_without_a_master_name_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="RAGTASKS_REDIS_SENTINEL_MASTER"):
        settings(redis_sentinels="s1:26379")
