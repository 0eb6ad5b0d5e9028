"""What keeps tests apart on the shared services: a RabbitMQ vhost of their own, a Mongo database
of their own, a Redis key prefix of their own, and the ``RAGTASKS_*`` environment that names them.

Used by the fixtures that give one test (``base_env``) or one package of tests (the gateway's
uvicorn process) its own corner of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient

from tests.support.services import Vhost, check_reachable, redis_url, unique


@contextmanager
def own_vhost() -> Iterator[Vhost]:
    """A fresh vhost, deleted afterwards; the broker and Redis are checked first (a service that
    cannot be reached fails the run)."""
    vhost = Vhost.create()
    check_reachable(vhost.broker_url, redis_url())
    try:
        yield vhost
    finally:
        vhost.delete()


@contextmanager
def own_database(mongo_url: str) -> Iterator[str]:
    """The name of a fresh Mongo database, dropped afterwards."""
    name = unique("ragtasks_test")
    try:
        yield name
    finally:
        client: MongoClient[dict[str, Any]]
        with MongoClient(mongo_url) as client:
            client.drop_database(name)


def ragtasks_env(*, mongo_url: str, db_name: str, broker_url: str) -> dict[str, str]:
    """The ``RAGTASKS_*`` variables of a process under test: development mode, its own database
    and key prefix, a known API key, plain-text logs, no LLM (the offline summarizer)."""
    return {
        "RAGTASKS_ENVIRONMENT": "development",
        "RAGTASKS_BROKER_URL": broker_url,
        "RAGTASKS_RESULT_BACKEND": redis_url(),
        "RAGTASKS_REDIS_URL": redis_url(),
        "RAGTASKS_KEY_PREFIX": unique("rt"),
        "RAGTASKS_MONGODB_URL": mongo_url,
        "RAGTASKS_MONGODB_DB": db_name,
        "RAGTASKS_API_KEYS": "test-key-0123456789",
        "RAGTASKS_LOG_JSON": "false",
        "RAGTASKS_LLM_BASE_URL": "",
    }
