"""Every multi-key Lua script of ragtasks touches one hash slot per call, so it runs on Redis Cluster.

Two checks: the key names (redis-py's own CRC16 slot function), and the real thing: a
``redis-server --cluster-enabled yes`` node owning every slot, which refuses (CROSSSLOT) any
script whose keys span slots, driven through redis-py's ``RedisCluster`` client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from ragtasks_core.alerting.rules import EmptyRetrievalRule
from ragtasks_core.alerting.window import RetrievalWindows
from ragtasks_core.ratelimit import SharedRateLimiter
from ragtasks_gateway.retrieval_detect import observe, undo
from ragtasks_scheduler.beat import BeatLock
from tests.integration.ha.redis_nodes import RedisServer
from tests.support.procs import wait_until

RULE = EmptyRetrievalRule(threshold=50, window_seconds=3, min_events=20, ratio=0.5, cooldown_seconds=60)
KBS = ["kb-1", "kb-2", "知识库", "a{b}c", "x}y", "{}", ""]


def slot(key: str) -> int:
    return int(key_slot(key.encode()))


def test_one_kbs_keys_share_a_slot_whatever_its_id() -> None:
    windows = RetrievalWindows(redis.Redis(), "ragtasks", 300)  # no connection: key names only
    for kb in KBS:
        assert len({slot(windows.key(kind, kb)) for kind in ("window", "state", "cooldown")}) == 1, kb
    # Different KBs land in different slots: that is why each script call may touch one KB only.
    assert len({slot(windows.key("window", kb)) for kb in KBS}) > 1


@pytest.fixture
def cluster() -> Iterator[RedisCluster]:
    node = RedisServer(cluster=True).start()
    try:
        with node.client(decode_responses=True) as admin:
            admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)  # one node owns every slot
            wait_until(lambda: "cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"), 10, 0.1, "the cluster")
            # The server itself refuses a script whose keys span slots, whatever the client.
            with pytest.raises(redis.ResponseError, match="same slot"):
                admin.eval("return 1", 2, "rt:{kb-1}:window", "rt:{kb-2}:window")
        client = RedisCluster(host="127.0.0.1", port=node.port, decode_responses=True)
        yield client
        client.close()
    finally:
        node.stop()


def test_window_rule_limiter_and_beat_lock_run_on_a_cluster(cluster: Any) -> None:
    prefix = f"rt-{uuid.uuid4().hex[:8]}"
    windows = RetrievalWindows(cluster, prefix, RULE.window_seconds)
    # One gateway batch over several KBs: one script call per KB, each in its KB's slot.
    sums, fired = observe(windows, RULE, [("kb-1", True)] * 60 + [("kb-2", False)] * 5 + [("知识库", True)] * 3)
    assert [t.kb_id for t in fired] == ["kb-1"]
    assert (sums["kb-2"].total, sums["知识库"].empty) == (5, 3)
    assert windows.firing() == ["kb-1"]
    undo(windows, fired[0])  # the alert could not be published: state back, listed no more
    assert windows.firing() == []
    _, again = observe(windows, RULE, [("kb-1", True)])
    assert [t.action for t in again] == ["fire"]
    assert windows.transition("kb-1", "resolve") and windows.firing() == []

    limiter = SharedRateLimiter(cluster, f"{prefix}:ratelimit:llm:m", count=1, period=60, name="cluster")
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 50

    lock = BeatLock(cluster, f"{prefix}:beat:lock", ttl=30)
    assert lock.try_acquire() and not BeatLock(cluster, lock.key).try_acquire()
    assert lock.refresh()
    lock.release()
    assert cluster.get(lock.key) is None
