"""Redis HA through a real Sentinel: two redis-server processes (master + replica) and one sentinel
(quorum 1), all started here on free ports. The master is killed (SIGKILL) while the rate limiter
and the retrieval window are under load; Sentinel promotes the replica, and the same clients --
built by ``ragtasks_core.redis_client`` from the settings -- go on working against it, as does
Celery's result backend.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ragtasks_core import redis_client
from ragtasks_core.alerting.window import RetrievalWindows
from ragtasks_core.celery_app import create_celery
from ragtasks_core.runtime import Runtime
from ragtasks_core.settings import Settings
from tests.integration.ha.redis_nodes import MASTER_NAME, RedisSentinel, RedisServer
from tests.support.procs import wait_until

# Load runs this long before the kill and after the failover; the grace absorbs a busy machine.
LOAD_SECONDS = 1.5
GRACE_SECONDS = 1.0
LIMIT_PER_SECOND = 20
POST_CALLS = 40  # per thread after its recovery: > 0.2 s of calls, several limiter slots


@dataclass
class Nodes:
    master: RedisServer
    replica: RedisServer
    sentinel: RedisSentinel

    def sentinel_url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{MASTER_NAME}/{db}"


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    started: list[Any] = []
    try:
        master = RedisServer().start()
        started.append(master)
        replica = RedisServer(replica_of=master.port).start()
        started.append(replica)
        with replica.client(decode_responses=True) as c:
            wait_until(lambda: c.info("replication").get("master_link_status") == "up", 20, 0.1, "replication")
        sentinel = RedisSentinel(master.port).start()
        started.append(sentinel)
        wait_until(lambda: sentinel.knows_replica(replica.port), 30, 0.2, "the sentinel to see the replica")
        yield Nodes(master, replica, sentinel)
    finally:
        for server in reversed(started):
            server.stop()


def settings_for(**values: Any) -> Settings:
    return Settings(key_prefix=f"ha-{uuid.uuid4().hex[:8]}", **values)


def test_each_way_of_naming_sentinel_reaches_the_master(nodes: Nodes) -> None:
    port = nodes.sentinel.port
    forms = {
        2: settings_for(redis_url=nodes.sentinel_url(2)),
        3: settings_for(
            redis_url="redis://not-used:1/3", redis_sentinels=f"127.0.0.1:{port}", redis_sentinel_master=MASTER_NAME
        ),
        4: settings_for(result_backend=f"sentinel://127.0.0.1:{port}/4", redis_sentinel_master=MASTER_NAME),
    }
    with nodes.master.client(decode_responses=True) as master:
        for db, settings in forms.items():
            client = redis_client.sync_client(settings)
            client.set("probe", str(db))
            client.close()
            master.select(db)
            assert master.get("probe") == str(db)

    async def ping() -> bool:
        client = redis_client.async_client(forms[2])
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    assert asyncio.run(ping())
    # The gateway's and beat's app (no result subscriptions) reaches the results through Sentinel too.
    publisher = create_celery(forms[4], waits_on_results=False)
    try:
        assert type(publisher.backend).__name__ == "PublisherSentinelBackend"
        publisher.backend.store_result("via-publisher", {"n": 1}, "SUCCESS")
        assert publisher.AsyncResult("via-publisher").result == {"n": 1}
    finally:
        publisher.close()
    with pytest.raises(ValueError, match="RAGTASKS_REDIS_SENTINEL_MASTER"):
        redis_client.sync_client(settings_for(result_backend=f"sentinel://127.0.0.1:{port}/0"))


@dataclass
class Load:
    """Calls made in a loop by one thread: (started, finished, value or the error)."""

    call: Callable[[], Any]
    results: list[tuple[float, float, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                value = self.call()
            except Exception as exc:  # noqa: BLE001 - recorded: the test judges when errors may happen
                value = exc
            self.results.append((started, time.monotonic(), value))
            time.sleep(0.005)

    def after(self, moment: float) -> list[Any]:
        return [value for started, _, value in self.results if started >= moment]

    def errors(self) -> list[tuple[float, float, Exception]]:
        return [(started, ended, value) for started, ended, value in self.results if isinstance(value, Exception)]

    def recovered(self, settled: float) -> float:
        """When this thread's calls could succeed again: after the settle time and its last failed call
        (a call in flight at the kill can hang for its socket timeout on a busy machine)."""
        return max([settled, *(ended for _, ended, _ in self.errors())])


def test_limiter_window_and_results_survive_a_master_failover(nodes: Nodes) -> None:
    settings = settings_for(
        redis_url=nodes.sentinel_url(0),
        result_backend=f"sentinel://127.0.0.1:{nodes.sentinel.port}/1",
        redis_sentinel_master=MASTER_NAME,
        llm_rate_limit=f"{LIMIT_PER_SECOND}/s",
        llm_model="ha-test",
    )
    rt = Runtime(settings)  # the workers' own clients: the limiter and Redis through the factory
    windows = RetrievalWindows(rt.redis, settings.key_prefix, 120)
    limiter_load = Load(rt.llm_limiter.try_acquire)
    window_load = Load(lambda: windows.record({"kb-ha": (1, 1)})["kb-ha"].total)
    app = create_celery(settings)
    app.backend.store_result("before-failover", {"n": 1}, "SUCCESS")
    loads = (limiter_load, window_load)
    threads = [threading.Thread(target=load.run) for load in loads]
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_SECONDS)
        killed_at = time.monotonic()
        nodes.master.kill()
        wait_until(lambda: nodes.sentinel.master_port_now() == nodes.replica.port, 30, 0.1, "Sentinel's failover")
        failover_seconds = time.monotonic() - killed_at
        settled = time.monotonic() + GRACE_SECONDS
        time.sleep(GRACE_SECONDS + LOAD_SECONDS)
        # Enough calls after each thread's recovery to judge it, however long a hung call took.
        wait_until(
            lambda: all(len(load.after(load.recovered(settled))) >= POST_CALLS for load in loads),
            30, 0.1, "calls after the failover",
        )  # fmt: skip
    finally:
        for load in loads:
            load.stop.set()
        for thread in threads:
            thread.join(30)

    errors = {"limiter": len(limiter_load.errors()), "window": len(window_load.errors())}
    print(f"failover took {failover_seconds:.1f}s; calls that failed: {errors}")  # shown when the test fails
    for load in loads:
        assert [v for v in load.after(0) if not isinstance(v, Exception)], "load ran before the kill"
        # Errors only while the master was gone (a call in flight at the kill included); none once
        # Sentinel had promoted the replica.
        assert all(ended >= killed_at and started < settled for started, ended, _ in load.errors()), load.errors()

    # The limiter still limits: slots were taken after the failover, no more than the rate allows.
    recovered = limiter_load.recovered(settled)
    post_slots = [v for v in limiter_load.after(recovered) if v == 0.0]
    post_seconds = max(end for _, end, _ in limiter_load.results) - recovered
    assert 1 <= len(post_slots) <= LIMIT_PER_SECOND * post_seconds + 2, (len(post_slots), post_seconds)
    assert any(v > 0 for v in limiter_load.after(recovered)), "callers were told to wait"

    # The window still counts: each post-failover call added exactly its one event.
    totals = window_load.after(window_load.recovered(settled))
    assert len(totals) >= 5 and all(b == a + 1 for a, b in itertools.pairwise(totals)), totals

    # The rule's state and the result backend work against the promoted master.
    assert windows.transition("kb-ha", "fire", 60) and not windows.transition("kb-ha", "fire", 60)
    assert windows.firing() == ["kb-ha"]
    app.backend.store_result("after-failover", {"n": 2}, "SUCCESS")
    assert app.backend.get_task_meta("after-failover")["result"] == {"n": 2}
    with nodes.replica.client(decode_responses=True) as promoted:
        assert promoted.info("replication")["role"] == "master"
        assert promoted.hlen(windows.key("window", "kb-ha")) > 0  # the window lives on the new master
    assert rt.redis.connection_pool.get_master_address()[1] == nodes.replica.port  # the same client, moved over
    app.close()
    rt.close()
