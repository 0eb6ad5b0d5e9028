"""A stopping worker with the Mongo server gone closes its Mongo client at once.

``MongoClient.close()`` ends the client's server sessions on the server; with the server gone it
waited out server selection (30 s) in every pool child a stopping worker closed, past a pod's grace
period. ``Runtime.close`` bounds it (``CLOSE_TIMEOUT_SECONDS``). A Mongo server of the test's own,
so it can be stopped: the run's shared one (or CI's ``mongo:7``) stays up.
"""

from __future__ import annotations

import time

from ragtasks_core.runtime import CLOSE_TIMEOUT_SECONDS, Runtime
from ragtasks_core.settings import Settings
from tests.conftest import LOG_DIR
from tests.support.services import SecantusServer


def test_closing_with_the_mongo_server_gone_takes_about_a_second() -> None:
    server = SecantusServer(LOG_DIR).start(timeout=30)
    try:
        runtime = Runtime(Settings(mongodb_url=server.url, mongodb_db="close_test"))
        runtime.db["messages"].insert_one({"session_id": "关闭-1", "seq": 1})  # the client now holds a session
    finally:
        server.stop()
    started = time.monotonic()
    runtime.close()
    took = time.monotonic() - started
    assert took < CLOSE_TIMEOUT_SECONDS + 5, took  # unbounded, it is the 30 s of server selection
    assert "mongo_client" not in runtime.__dict__
