"""Two alerter processes share one robot's limit through Redis: never faster than the rate."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from tests.integration.helpers import auth, gateway_client
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import start_together, wait_until

# 40/m (one message per 1.5 s) proves the shared limit in ~10 s; the default 20/m is the same GCRA
# with a 3 s interval.
RATE, INTERVAL, MESSAGES = "40/m", 1.5, 8


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_two_alerter_processes_never_exceed_the_robot_rate(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom, db: Any, tmp_path: Path
) -> None:
    # The fake robot answers 45009 past 40 a minute, like the real one past 20.
    wecom.limit_per_window, wecom.window_seconds = 40, 60
    env = {
        **worker_env,
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
        "RAGTASKS_WECOM_RATE_LIMIT": RATE,
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_ALERT_RATE_LIMIT_MAX_WAIT_SECONDS": "1",
    }
    *workers, gw = start_together(
        lambda: start_worker("alerter", env, concurrency=2),
        lambda: start_worker("alerter", env, concurrency=2),
        lambda: start_gateway(env),
    )
    with gateway_client(gw.port) as client:
        for i in range(MESSAGES):  # distinct sources: distinct groups, one message each
            body = {"fingerprint": f"fp-{i}", "title": f"alert {i}", "source": f"svc-{i}"}
            assert client.post("/v1/alerts", json=body, headers=auth()).status_code == 202
        wait_until(lambda: len(wecom.messages()) == MESSAGES, MESSAGES * INTERVAL + 30, message="all messages")
    times = [m.at for m in wecom.messages()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"gaps between messages: {[round(g, 2) for g in gaps]}")
    # Spacing is decided on Redis's clock when a sender takes its slot; the HTTP post that follows
    # can be late by a scheduler hiccup on a busy machine, shortening the next gap by as much. Without
    # the limit the eight posts land within milliseconds, so half an interval still proves it.
    assert min(gaps) >= INTERVAL / 2, gaps
    assert wecom.max_in_window(INTERVAL * 3) <= 3 + 1
    assert all(r.errcode == 0 for r in wecom.attempts())  # nothing dropped, nothing refused
    # Both processes delivered (the attempt records the sending child's pid).
    senders = {a["worker"] for doc in db["alerts"].find() for a in doc["attempts"] if a["outcome"] == "sent"}
    parents = {_parent(int(s.rsplit(":", 1)[1])) for s in senders}
    assert parents == {w.popen.pid for w in workers}, (senders, parents)
