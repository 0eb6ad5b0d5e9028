"""``make chaos``: a steady load while processes and servers die, then proof that nothing was lost.

For ``--duration`` seconds (default 300) a client appends turns to ``--sessions`` sessions (every
append crosses the summary threshold), reports retrieval events, and raises an alert every
``--alert-every`` seconds, all through the real gateway. Meanwhile, evenly spaced, each round
``kill -9``s a summarizer pool child, then the summarizer's parent (and starts a new one),
restarts RabbitMQ (``rabbitmqctl stop_app``/``start_app``) and restarts the Mongo server (same
port, data on disk). After the load stops the run waits for the system to settle and checks:

- every session is summarized up to its last stored message (keep-recent is 0, so all of it is
  foldable), through committed summaries whose ranges chain without overlap (exactly once per
  range); numbers reserved past that message are allowed only for appends the client saw refused;
- every append the gateway acknowledged is stored (by a marker in its text), none twice;
- every alert the gateway accepted reached the WeCom robot (a local double) exactly once.

The report prints the counts and the slowest recovery (fault start -> an append acknowledged and a
summary committed after the fault). Exit status 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_wecom import FakeWeCom
from tests.support.services import MongoServer, Vhost

from . import chaos_faults as faults
from .common import LOG_DIR, Stack, stack

KEY = "bench-key-0123456789"
TURN_REPLY = "Understood. Returns are accepted within 30 days with the receipt; 退货请保留发票。"


@dataclass
class Config:
    duration: float = 300.0
    sessions: int = 12
    rounds: int = 1
    append_interval: float = 0.15
    alert_every: float = 8.0
    outage_seconds: float = 6.0
    settle_timeout: float = 240.0


@dataclass
class Load:
    """What the client sent and what the gateway acknowledged."""

    acked: dict[str, str] = field(default_factory=dict)  # marker -> session
    append_errors: int = 0
    alerts_acked: list[str] = field(default_factory=list)  # unique alert titles
    alert_errors: int = 0
    retrieval_events: int = 0
    last_ack: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response | None:
    try:
        return client.post(path, json=body, headers={"Authorization": f"Bearer {KEY}"})
    except httpx.HTTPError:
        return None  # a timeout or a refused connection: not acknowledged


def _append(client: httpx.Client, load: Load, session: str, n: int) -> None:
    marker = f"chaos-{session}-{n}"
    turn = [{"role": "user", "content": f"[{marker}] 我想退货，耳机左边有杂音。The left earbud crackles."},
            {"role": "assistant", "content": TURN_REPLY}]  # fmt: skip
    r = _post(client, f"/v1/sessions/{session}/messages", {"messages": turn})
    if r is not None and r.status_code == 200:
        load.acked[marker] = session
        load.last_ack = time.monotonic()
    else:
        load.append_errors += 1


def _side_traffic(client: httpx.Client, load: Load, n: int, last_alert: float, config: Config) -> float:
    if n % 5 == 0:
        events = [{"kb_id": "kb-chaos", "query": f"q{n}-{i}", "n_results": i % 3} for i in range(4)]
        r = _post(client, "/v1/retrieval-events", {"events": events})
        load.retrieval_events += len(events) if r is not None and r.status_code == 202 else 0
    if time.monotonic() - last_alert < config.alert_every:
        return last_alert
    title = f"chaos alert {n}"
    # Its own source (the alerter's group key): one alert, one message, nothing batched with it.
    alert = {"fingerprint": f"chaos-{n}", "title": title, "body": "raised by the chaos soak", "source": f"chaos-{n}"}
    r = _post(client, "/v1/alerts", alert)
    if r is not None and r.status_code == 202:
        load.alerts_acked.append(title)
    else:
        load.alert_errors += 1
    return time.monotonic()


def run_load(port: int, config: Config, load: Load) -> None:
    n, last_alert = 0, time.monotonic()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        while not load.stop.is_set():
            _append(client, load, f"s{n % config.sessions}", n)
            last_alert = _side_traffic(client, load, n, last_alert, config)
            n += 1
            time.sleep(config.append_interval)


# --- the run -------------------------------------------------------------------------------------


def _env(s: Stack, wecom: FakeWeCom) -> dict[str, str]:
    never = "1000000000"  # the empty-retrieval rule stays quiet: the alerts counted are the client's
    return s.env(
        API_KEYS=KEY, SUMMARY_TRIGGER_TOKENS="20", SUMMARY_KEEP_RECENT_MESSAGES="0",
        OUTBOX_SWEEP_INTERVAL_SECONDS="3", OUTBOX_GRACE_SECONDS="2", OUTBOX_STALE_PENDING_SECONDS="30",
        WECOM_WEBHOOK_URL=wecom.url(), WECOM_RATE_LIMIT="600/m", ALERT_GROUP_WAIT_SECONDS="0",
        ALERT_FLUSH_INTERVAL_SECONDS="5", EMPTY_RETRIEVAL_THRESHOLD=never, EMPTY_RETRIEVAL_MIN_EVENTS=never,
        # An append refused in the Mongo restart leaves a hole; the default 2 minutes before it is
        # stepped over would be most of the settle time. Inserts are then bounded to 10 s.
        SUMMARY_HOLE_GRACE_SECONDS="20",
    )  # fmt: skip


def _progress(db: Any) -> int:
    try:
        return int(db.summaries.count_documents({"committed": True}))
    except Exception:  # noqa: BLE001 - Mongo may be the thing that is down
        return -1


def _recovered(db: Any, load: Load, restored: float, before: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if load.last_ack > restored and _progress(db) > before:
            return True
        time.sleep(0.25)
    return False


def inject(name: str, action: Callable[[], None], db: Any, load: Load, recoveries: dict[str, float]) -> None:
    started = time.monotonic()
    action()
    restored = time.monotonic()
    ok = _recovered(db, load, restored, max(_progress(db), 0), timeout=180)
    recoveries[name] = round(time.monotonic() - started, 2) if ok else float("inf")
    print(f"chaos: {name}: recovered after {recoveries[name]} s", flush=True)


def _start_stack(env: dict[str, str], started: list[procs.Proc]) -> tuple[faults.Workers, procs.Proc]:
    """The three workers and the gateway, started side by side (each start is seconds of imports),
    then beat. Every process is added to ``started`` as soon as it is up, so the caller stops
    whatever did start even when another start fails."""

    def up(proc: procs.Proc) -> procs.Proc:
        started.append(proc)
        return proc

    def summarizer() -> procs.Proc:
        return up(procs.start_worker("summarizer", env, LOG_DIR, concurrency=2))

    first, *_, gateway = procs.start_together(
        summarizer,
        lambda: up(procs.start_worker("evaluator", env, LOG_DIR, concurrency=1)),
        lambda: up(procs.start_worker("alerter", env, LOG_DIR, concurrency=1)),
        lambda: up(procs.start_gateway(env, LOG_DIR)),
    )
    up(procs.start_beat(env, LOG_DIR))
    return faults.Workers(first, summarizer), gateway


def run(config: Config, vhost: Vhost | None = None) -> dict[str, Any]:
    """The whole soak; returns the report (``ok`` says whether every invariant held)."""
    workdir = Path(tempfile.mkdtemp(prefix="ragtasks-chaos-"))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    mongo = faults.PersistentMongo(workdir / "mongo-data", LOG_DIR / f"chaos-mongo-{int(time.time())}.log").start()
    wecom = FakeWeCom(limit_per_window=1_000_000).start()
    started: list[procs.Proc] = []
    try:
        with stack(MongoServer(mongo.url), vhost) as s:
            workers, gateway = _start_stack(_env(s, wecom), started)
            assert gateway.port is not None
            return _soak(config, s, mongo, workers, gateway.port, wecom)
    finally:
        for proc in reversed(started):
            proc.stop()
        wecom.stop()
        mongo.stop()


def _soak(config: Config, s: Stack, mongo: faults.PersistentMongo, workers: faults.Workers, port: int,
          wecom: FakeWeCom) -> dict[str, Any]:  # fmt: skip
    client: MongoClient[dict[str, Any]] = MongoClient(mongo.url, serverSelectionTimeoutMS=2000)
    db = client[s.db_name]
    load = Load()
    thread = threading.Thread(target=run_load, args=(port, config, load), name="chaos-load", daemon=True)
    thread.start()
    plan: list[tuple[str, Callable[[], None]]] = [
        ("kill -9 summarizer child", lambda: faults.kill_summarizer_child(workers)),
        ("kill -9 summarizer parent", lambda: faults.kill_summarizer_parent(workers)),
        ("restart RabbitMQ", lambda: faults.restart_rabbitmq(config.outage_seconds)),
        ("restart Mongo", lambda: faults.restart_mongo(mongo, config.outage_seconds)),
    ] * config.rounds
    begun, recoveries = time.monotonic(), dict[str, float]()
    gap = config.duration / (len(plan) + 1)
    for i, (name, action) in enumerate(plan, start=1):
        time.sleep(max(0.0, begun + i * gap - time.monotonic()))
        inject(f"{name} #{(i - 1) // 4 + 1}", action, db, load, recoveries)
    time.sleep(max(0.0, begun + config.duration - time.monotonic()))
    load.stop.set()
    thread.join(30)
    from .chaos_check import settle_and_check

    report = settle_and_check(db, load, wecom, config.settle_timeout)
    report["recoveries_s"] = recoveries
    report["max_recovery_s"] = max(recoveries.values(), default=0.0)
    report["notes"] = workers.notes
    report["ok"] = report["ok"] and report["max_recovery_s"] != float("inf")
    client.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=Config.duration, help="seconds of load (default 300)")
    parser.add_argument("--sessions", type=int, default=Config.sessions)
    parser.add_argument("--rounds", type=int, default=Config.rounds, help="times each fault is injected")
    parser.add_argument("--alert-every", type=float, default=Config.alert_every)
    args = parser.parse_args(argv)
    config = Config(duration=args.duration, sessions=args.sessions, rounds=args.rounds, alert_every=args.alert_every)
    report = run(config)
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
