"""Sliding windows of retrieval counts per KB in Redis, and the rule's edge-triggered state.

Per KB one hash is a ring of at most ~60 buckets (fields ``b<slot>`` = bucket number, ``t<slot>``
= events, ``e<slot>`` = empty ones): recording a batch is O(1) per event, memory is bounded, and
a stale slot is overwritten when its bucket comes round again. One Lua script per batch updates
every KB of the batch and returns the window sums, using Redis's clock, so gateway replicas agree.

The rule's state is a key per KB (present = firing) plus a cooldown key; transitions are done by
a second script, so of any number of racing replicas exactly one sees "fire" (or "resolve").
Imports neither Celery nor prometheus_client: the gateway and the alerter both use it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import redis

MAX_BUCKETS = 60

_RECORD = """
local bucket_seconds = tonumber(ARGV[1])
local nbuckets = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bucket = math.floor(now / bucket_seconds)
local oldest = bucket - nbuckets + 1
local out = {}
for i = 1, #KEYS / 2 do
  local key = KEYS[2 * i - 1]
  local state_key = KEYS[2 * i]
  local total = tonumber(ARGV[2 + 2 * i])
  local empty = tonumber(ARGV[3 + 2 * i])
  if total > 0 then
    local slot = bucket % nbuckets
    local seen = tonumber(redis.call('HGET', key, 'b' .. slot) or '-1')
    if seen ~= bucket then
      redis.call('HSET', key, 'b' .. slot, bucket, 't' .. slot, total, 'e' .. slot, empty)
    else
      redis.call('HINCRBY', key, 't' .. slot, total)
      redis.call('HINCRBY', key, 'e' .. slot, empty)
    end
    redis.call('EXPIRE', key, ttl)
  end
  local sum_total, sum_empty = 0, 0
  for slot = 0, nbuckets - 1 do
    local vals = redis.call('HMGET', key, 'b' .. slot, 't' .. slot, 'e' .. slot)
    local b = tonumber(vals[1] or '-1')
    if b >= oldest and b <= bucket then
      sum_total = sum_total + tonumber(vals[2] or '0')
      sum_empty = sum_empty + tonumber(vals[3] or '0')
    end
  end
  table.insert(out, sum_total)
  table.insert(out, sum_empty)
  table.insert(out, redis.call('EXISTS', state_key))
end
return out
"""

# KEYS: state, cooldown, firing set. ARGV: action, cooldown seconds, kb.
_TRANSITION = """
local action = ARGV[1]
if action == 'fire' then
  if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  redis.call('SET', KEYS[1], '1')
  local cooldown = tonumber(ARGV[2])
  if cooldown > 0 then redis.call('SET', KEYS[2], '1', 'EX', cooldown) end
  redis.call('SADD', KEYS[3], ARGV[3])
  return 1
elseif action == 'resolve' then
  if redis.call('DEL', KEYS[1]) == 1 then
    redis.call('SREM', KEYS[3], ARGV[3])
    return 1
  end
  return 0
elseif action == 'undo_fire' then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
  return 1
elseif action == 'undo_resolve' then
  redis.call('SET', KEYS[1], '1')
  redis.call('SADD', KEYS[3], ARGV[3])
  return 1
end
return redis.error_reply('unknown action')
"""

Transition = Literal["fire", "resolve"]


@dataclass(frozen=True)
class WindowCounts:
    total: int
    empty: int
    firing: bool

    @property
    def ratio(self) -> float:
        return self.empty / self.total if self.total else 0.0


def bucket_layout(window_seconds: int) -> tuple[int, int]:
    """(bucket seconds, number of buckets): at most ``MAX_BUCKETS`` buckets cover the window."""
    bucket = max(1, math.ceil(window_seconds / MAX_BUCKETS))
    return bucket, max(1, math.ceil(window_seconds / bucket))


class RetrievalWindows:
    def __init__(self, client: redis.Redis, prefix: str, window_seconds: int) -> None:
        self._client = client
        self._prefix = f"{prefix}:retrieval"
        self.bucket_seconds, self.buckets = bucket_layout(window_seconds)
        self._ttl = self.bucket_seconds * (self.buckets + 1) + 1
        self._record = client.register_script(_RECORD)
        self._transition = client.register_script(_TRANSITION)

    def _key(self, kind: str, kb_id: str) -> str:
        return f"{self._prefix}:{kind}:{kb_id}"

    @property
    def firing_set_key(self) -> str:
        return f"{self._prefix}:firing"

    def record(self, counts: Mapping[str, tuple[int, int]]) -> dict[str, WindowCounts]:
        """Add ``{kb: (events, empty)}`` and return each KB's window sums and state."""
        kbs = sorted(counts)
        if not kbs:
            return {}
        keys: list[str] = []
        args: list[int] = [self.bucket_seconds, self.buckets, self._ttl]
        for kb in kbs:
            keys += [self._key("window", kb), self._key("state", kb)]
            args += [int(counts[kb][0]), int(counts[kb][1])]
        flat = [int(x) for x in self._record(keys=keys, args=args)]
        return {kb: WindowCounts(flat[3 * i], flat[3 * i + 1], bool(flat[3 * i + 2])) for i, kb in enumerate(kbs)}

    def transition(self, kb_id: str, action: str, cooldown_seconds: int = 0) -> bool:
        """Try a state change; True only for the one caller that made it."""
        keys = [self._key("state", kb_id), self._key("cooldown", kb_id), self.firing_set_key]
        return bool(self._transition(keys=keys, args=[action, cooldown_seconds, kb_id]))

    def firing(self) -> list[str]:
        return sorted(str(kb) for kb in self._client.smembers(self.firing_set_key))

    def window_fields(self, kb_id: str) -> int:
        return int(self._client.hlen(self._key("window", kb_id)))


def hashed(text: str) -> str:
    """A short stable hash, for Redis key names that must not hold a secret."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
