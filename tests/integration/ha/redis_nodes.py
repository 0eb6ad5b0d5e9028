"""Real Redis servers and a real Sentinel for the HA tests, each on a free port of its own.

``redis-server`` is the machine's (Debian's redis-server / redis-tools); ``redis-sentinel`` comes
from Debian's ``redis-sentinel`` package (``scripts/install-redis-sentinel.sh``, run by
``make install``). Nothing is faked: the failover is Sentinel's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import redis

from tests.support.procs import free_port
from tests.support.server_process import ServerProcess

MASTER_NAME = "mymaster"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run `make install` (scripts/install-redis-sentinel.sh)")
    return path


class RedisServer(ServerProcess):
    """A throw-away redis-server: no persistence, optionally a replica or a cluster node."""

    name = "redis"

    def __init__(self, *, replica_of: int | None = None, cluster: bool = False) -> None:
        self.replica_of = replica_of
        self.cluster = cluster
        super().__init__()

    def binary(self) -> str:
        return _binary("redis-server")

    def write_files(self, directory: Path) -> None:
        lines = ["bind 127.0.0.1", 'save ""', "appendonly no", f"dir {directory}"]
        if self.replica_of is not None:
            lines.append(f"replicaof 127.0.0.1 {self.replica_of}")
        if self.cluster:
            # The bus port would default to port + 10000, past 65535 for a high free port.
            lines += [
                "cluster-enabled yes",
                f"cluster-config-file {directory}/nodes.conf",
                f"cluster-port {free_port()}",
            ]
        (directory / "redis.conf").write_text("\n".join(lines) + "\n")

    def argv(self, directory: Path) -> list[str]:
        return [str(directory / "redis.conf"), "--port", str(self.port)]

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, **kwargs)  # type: ignore[arg-type]

    def ready(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crashed host would: no goodbye to the replicas or the sentinel."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()


class RedisSentinel(ServerProcess):
    """One sentinel watching ``master_port`` as ``mymaster``, quorum 1, quick to act."""

    name = "sentinel"

    def __init__(self, master_port: int, *, down_after_ms: int = 1000) -> None:
        self.master_port = master_port
        self.down_after_ms = down_after_ms
        super().__init__()

    def binary(self) -> str:
        return _binary("redis-sentinel")

    def write_files(self, directory: Path) -> None:
        # Sentinel rewrites its config file as it learns: it must be a file of its own.
        (directory / "sentinel.conf").write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"dir {directory}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 1",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
                    f"sentinel failover-timeout {MASTER_NAME} 10000",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                ]
            )
            + "\n"
        )

    def argv(self, directory: Path) -> list[str]:
        return [str(directory / "sentinel.conf"), "--port", str(self.port)]

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def ready(self) -> bool:
        try:
            with self.client() as client:
                return client.sentinel_get_master_addr_by_name(MASTER_NAME) is not None
        except redis.RedisError:
            return False

    def master_port_now(self) -> int:
        with self.client() as client:
            _host, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
            return int(port)

    def knows_replica(self, port: int) -> bool:
        with self.client() as client:
            replicas = client.sentinel_slaves(MASTER_NAME)
        return any(int(r["port"]) == port and not r.get("is_disconnected") and not r.get("is_sdown") for r in replicas)
