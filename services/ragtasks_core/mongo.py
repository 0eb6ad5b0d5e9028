"""MongoDB clients.

Workers use one sync ``MongoClient`` per *process*: created after fork (``worker_process_init``)
and closed at process shutdown, because a client must never cross a fork. The gateway uses
PyMongo's ``AsyncMongoClient`` (Motor's successor) created in the app's lifespan.

The collections (names, indexes, document shapes) are in :mod:`ragtasks_core.documents`.
"""

from __future__ import annotations

from pymongo import AsyncMongoClient, MongoClient

from .settings import Settings


def sync_client(settings: Settings, *, max_pool_size: int = 10) -> MongoClient:
    return MongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )


def async_client(settings: Settings, *, max_pool_size: int = 50) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )
