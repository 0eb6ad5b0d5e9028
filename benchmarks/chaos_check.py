"""After the chaos: wait for the system to settle, then count what was lost or done twice."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from tests.support.fake_wecom import FakeWeCom

if TYPE_CHECKING:
    from .chaos import Load

_MARKER = re.compile(r"\[(chaos-[^\]]+)\]")


def _sessions(load: Load) -> list[str]:
    return sorted(set(load.acked.values()))


def _last_stored(db: Any, session: str) -> int:
    """The session's last stored message. ``last_seq`` may be past it: an append refused while
    Mongo restarted can have reserved its numbers and stored nothing (a hole at the end, which
    no summary can cover; the client got an error, so nothing acknowledged is missing)."""
    doc = db.messages.find_one({"session_id": session}, {"seq": 1}, sort=[("seq", -1)])
    return int(doc["seq"]) if doc else 0


def _settled(db: Any, load: Load, wecom: FakeWeCom) -> bool:
    docs = list(db.sessions.find({"_id": {"$in": _sessions(load)}}))
    summarized = len(docs) == len(_sessions(load)) and all(
        d.get("summary_pending") is None and d.get("summary_upto_seq") == _last_stored(db, d["_id"]) for d in docs
    )
    return summarized and not _alert_counts(load, wecom)["missing"]


def _alert_counts(load: Load, wecom: FakeWeCom) -> dict[str, int]:
    text = [m.content for m in wecom.messages()]
    seen: Counter[str] = Counter()
    for title in load.alerts_acked:
        pattern = re.compile(re.escape(title) + r"(?!\d)")  # "chaos alert 1" is not "chaos alert 12"
        seen[title] = sum(1 for content in text if pattern.search(content))
    return {
        "accepted": len(load.alerts_acked),
        "delivered_once": sum(1 for n in seen.values() if n == 1),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "missing": sum(1 for n in seen.values() if n == 0),
    }


def _appends(db: Any, load: Load) -> dict[str, int]:
    stored = Counter(
        match.group(1)
        for doc in db.messages.find({"role": "user"}, {"content": 1})
        if (match := _MARKER.search(doc.get("content", "")))
    )
    return {
        "acknowledged": len(load.acked),
        "refused_or_timed_out": load.append_errors,
        "lost": sum(1 for marker in load.acked if marker not in stored),
        "stored_twice": sum(1 for n in stored.values() if n > 1),
        "stored_unacknowledged": sum(1 for marker in stored if marker not in load.acked),
    }


def _chain(db: Any, session: str, upto: int) -> dict[str, int]:
    """Committed summaries of one session, checked as a chain 0 -> upto without overlap."""
    docs = sorted(db.summaries.find({"session_id": session}), key=lambda d: (d["from_seq"], d["upto_seq"]))
    committed = [d for d in docs if d.get("committed")]
    counts = {"summaries": len(committed), "overlaps": 0, "gaps": 0, "unmarked": 0}
    expected = 0
    for doc in committed:
        if doc["from_seq"] < expected:
            counts["overlaps"] += 1  # the same messages folded into two committed summaries
            continue
        if doc["from_seq"] > expected:
            # The watermark moved and the summary's "committed" flag (a second write) was lost
            # with the server: the range is summarized once, only not marked.
            filler = [d for d in docs if d["from_seq"] == expected and d["upto_seq"] == doc["from_seq"]]
            counts["unmarked" if filler else "gaps"] += 1
        expected = doc["upto_seq"]
    if expected != upto:
        filler = [d for d in docs if d["from_seq"] == expected and d["upto_seq"] == upto]
        counts["unmarked" if filler else "gaps"] += 1
    return counts


def settle_and_check(db: Any, load: Load, wecom: FakeWeCom, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    while time.monotonic() - started < timeout and not _settled(db, load, wecom):
        time.sleep(1)
    settle = round(time.monotonic() - started, 1)
    sessions = {d["_id"]: d for d in db.sessions.find({"_id": {"$in": _sessions(load)}})}
    last_stored = {s: _last_stored(db, s) for s in sessions}
    behind = [s for s, d in sessions.items() if d.get("summary_upto_seq") != last_stored[s]]
    # Reserved at the end and never written: only a refused append (two messages) may leave that.
    unwritten = sum(int(d.get("last_seq") or 0) - last_stored[s] for s, d in sessions.items())
    unexplained = -(-max(0, unwritten - 2 * load.append_errors) // 2)  # in appends, rounded up
    chains = Counter[str]()
    for session, doc in sessions.items():
        chains.update(_chain(db, session, int(doc.get("summary_upto_seq", 0))))
    appends, alerts = _appends(db, load), _alert_counts(load, wecom)
    appends["reserved_unwritten_at_the_end"] = unwritten
    losses = appends["lost"] + len(behind) + chains["gaps"] + alerts["missing"] + unexplained
    duplicates = appends["stored_twice"] + chains["overlaps"] + alerts["duplicates"]
    return {
        "appends": appends,
        "sessions": len(sessions),
        "sessions_not_summarized_to_the_end": behind,
        "summaries": dict(chains),
        "alerts": alerts,
        "retrieval_events": load.retrieval_events,
        "losses": losses,
        "duplicates": duplicates,
        "settle_s": settle,
        "ok": losses == 0 and duplicates == 0 and appends["acknowledged"] > 0,
    }
