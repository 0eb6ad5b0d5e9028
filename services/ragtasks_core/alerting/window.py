"""Sliding windows of retrieval counts per KB in Redis, and the rule's edge-triggered state.

Per KB one hash is a ring of at most ~60 buckets (fields ``b<slot>`` = bucket number, ``t<slot>``
= events, ``e<slot>`` = empty ones): recording a batch is O(1) per event, memory is bounded, and
a stale slot is overwritten when its bucket comes round again. A Lua script updates one KB's
window and returns its sums, using Redis's clock, so gateway replicas agree.

The rule's state is a key per KB (present = firing) plus a cooldown key; transitions are done by
a second script, so of any number of racing replicas exactly one sees "fire" (or "resolve").

Redis Cluster: every key of one KB carries the hash tag ``{kb:<kb>}`` and each script call touches
one KB only, so a call's keys share one slot (a script over several slots fails with CROSSSLOT).
The set of firing KBs spans KBs, so it is kept outside the scripts as an index: it may briefly
list a KB that is not firing (the per-KB state key is the truth, and ``firing()`` prunes it), but
a KB that fires is always in it.
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

# KEYS: one KB's window hash, its state key. ARGV: bucket seconds, buckets, ttl, events, empty ones.
_RECORD = """
local key = KEYS[1]
local bucket_seconds = tonumber(ARGV[1])
local nbuckets = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local total = tonumber(ARGV[4])
local empty = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bucket = math.floor(now / bucket_seconds)
local oldest = bucket - nbuckets + 1
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
return {sum_total, sum_empty, redis.call('EXISTS', KEYS[2])}
"""

# KEYS: one KB's state and cooldown keys. ARGV: action, cooldown seconds.
_TRANSITION = """
local action = ARGV[1]
if action == 'fire' then
  if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  redis.call('SET', KEYS[1], '1')
  local cooldown = tonumber(ARGV[2])
  if cooldown > 0 then redis.call('SET', KEYS[2], '1', 'EX', cooldown) end
  return 1
elseif action == 'resolve' then
  return redis.call('DEL', KEYS[1])
elseif action == 'undo_fire' then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
elseif action == 'undo_resolve' then
  redis.call('SET', KEYS[1], '1')
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

    def key(self, kind: str, kb_id: str) -> str:
        """``<prefix>:retrieval:{kb:<kb>}:<kind>``: the hash tag puts one KB's keys in one cluster slot.

        (``kb:`` keeps the tag non-empty for any id: Redis hashes a whole key whose tag is ``{}``;
        an id with a ``}`` cuts the tag short, but at the same place in every key of that KB.)
        """
        return f"{self._prefix}:{{kb:{kb_id}}}:{kind}"

    @property
    def firing_set_key(self) -> str:
        return f"{self._prefix}:firing"

    def record(self, counts: Mapping[str, tuple[int, int]]) -> dict[str, WindowCounts]:
        """Add ``{kb: (events, empty)}`` and return each KB's window sums and state (one call per KB)."""
        sums: dict[str, WindowCounts] = {}
        for kb in sorted(counts):
            keys = [self.key("window", kb), self.key("state", kb)]
            args = [self.bucket_seconds, self.buckets, self._ttl, int(counts[kb][0]), int(counts[kb][1])]
            total, empty, firing = (int(x) for x in self._record(keys=keys, args=args))
            sums[kb] = WindowCounts(total, empty, bool(firing))
        return sums

    def transition(self, kb_id: str, action: str, cooldown_seconds: int = 0) -> bool:
        """Try a state change; True only for the one caller that made it.

        The firing index is added to *before* a KB may start firing (and again after, in case a
        racing resolve removed it meanwhile) and removed from only *after* it stopped: whatever
        fails in between leaves an extra entry, never a missing one.
        """
        if action in ("fire", "undo_resolve"):
            self._client.sadd(self.firing_set_key, kb_id)
        keys = [self.key("state", kb_id), self.key("cooldown", kb_id)]
        changed = bool(self._transition(keys=keys, args=[action, cooldown_seconds]))
        if changed and action == "fire":
            self._client.sadd(self.firing_set_key, kb_id)
        if changed and action in ("resolve", "undo_fire"):
            self._unindex(kb_id)
        return changed

    def _unindex(self, kb_id: str) -> None:
        self._client.srem(self.firing_set_key, kb_id)
        if self._client.exists(self.key("state", kb_id)):  # fired again meanwhile: keep it listed
            self._client.sadd(self.firing_set_key, kb_id)

    def firing(self) -> list[str]:
        """KBs whose rule is firing (entries of the index whose state says otherwise are pruned)."""
        firing: list[str] = []
        for kb in sorted(str(kb) for kb in self._client.smembers(self.firing_set_key)):
            if self._client.exists(self.key("state", kb)):
                firing.append(kb)
            else:
                self._unindex(kb)
        return firing

    def window_fields(self, kb_id: str) -> int:
        return int(self._client.hlen(self.key("window", kb_id)))


def hashed(text: str) -> str:
    """A short stable hash, for Redis key names that must not hold a secret."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
