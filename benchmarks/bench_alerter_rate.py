"""Soak of the WeCom robot limit: two alerter processes, the default rate, one burst of alerts.

A WeCom group robot accepts 20 messages a minute per key and answers errcode 45009 beyond that.
This starts a fake robot enforcing exactly that limit (``tests/support/fake_wecom.py``), the
gateway and two ``ragtasks worker alerter`` processes (default concurrency) sharing one Redis
limiter at the default ``RAGTASKS_WECOM_RATE_LIMIT`` (unset: ``20/m``), with
``RAGTASKS_ALERT_GROUP_WAIT_SECONDS=0``. It raises ``--alerts`` distinct alerts at once through
``POST /v1/alerts`` (distinct fingerprints and sources: one message each) and waits until every
one has reached the robot (the excess must wait, never be dropped). It reports the messages
delivered, the most accepted in any sliding robot window (bound: the robot's limit), the 45009
answers (bound: 0), the gaps between messages and each process's share (bound: both deliver),
prints one JSON line and raises if a bound is violated. 30 alerts at 20/m take about 90 s.

    .venv/bin/python -m benchmarks.bench_alerter_rate [--alerts 30]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient
from tests.support import procs
from tests.support.fake_wecom import FakeWeCom

from benchmarks.common import LOG_DIR, Stack, stack
from ragtasks_core.documents.alerts import NOTIFICATIONS
from ragtasks_core.settings import Settings, parse_rate

# The real robot's limit, stated here (not read from the settings): the default must honour it.
ROBOT_LIMIT, ROBOT_WINDOW_SECONDS = 20, 60.0
RATE_LIMITED = 45009
PROCESSES = 2
HEADERS = {"Authorization": "Bearer bench-key-0123456789"}
# A 45009 makes the alerter wait this long before the next try (RAGTASKS_WECOM_RATE_LIMITED_RETRY_SECONDS).
RETRY_AFTER_45009 = float(Settings.model_fields["wecom_rate_limited_retry_seconds"].default)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def measure(s: Stack, alerts: int, *, rate: str | None = None, robot: FakeWeCom | None = None) -> dict[str, Any]:
    """Raise ``alerts`` alerts at once and follow them to the robot; the report lists violated bounds.

    ``rate`` None leaves ``RAGTASKS_WECOM_RATE_LIMIT`` unset (the default); ``robot`` None starts a
    fake robot with the real limit. The smoke test passes a faster rate and its own (started) robot.
    """
    if rate is None and "RAGTASKS_WECOM_RATE_LIMIT" in os.environ:
        raise RuntimeError("RAGTASKS_WECOM_RATE_LIMIT is set: this soak measures the default rate, unset it")
    own_robot = robot is None
    wecom = robot if robot is not None else FakeWeCom(limit_per_window=ROBOT_LIMIT, window_seconds=ROBOT_WINDOW_SECONDS)
    if own_robot:
        wecom.start()
    effective_rate = rate or str(Settings.model_fields["wecom_rate_limit"].default)
    count, period = parse_rate(effective_rate)
    interval = period / count
    concurrency = int(Settings.model_fields["alerter_concurrency"].default)
    overrides = {"WECOM_WEBHOOK_URL": wecom.url(), "ALERT_GROUP_WAIT_SECONDS": "0"}
    if rate is not None:
        overrides["WECOM_RATE_LIMIT"] = rate
    env = s.env(**overrides)
    started: list[procs.Proc] = []
    try:
        # Start the two workers and the gateway side by side (start-up is most of a short run).
        with ThreadPoolExecutor(PROCESSES + 1) as pool:
            futures = [
                pool.submit(procs.start_worker, "alerter", env, LOG_DIR, concurrency=concurrency)
                for _ in range(PROCESSES)
            ]
            futures.append(pool.submit(procs.start_gateway, env, LOG_DIR))
            errors = []
            for future in futures:
                try:
                    started.append(future.result())
                except Exception as exc:  # noqa: BLE001 - stop the others, then raise the first
                    errors.append(exc)
            if errors:
                raise errors[0]
        workers, gateway = started[:PROCESSES], started[PROCESSES]
        titles = [f"soak alert {i:03d}" for i in range(alerts)]
        t0 = time.time()
        with httpx.Client(base_url=f"http://127.0.0.1:{gateway.port}", timeout=30) as client:
            for i, title in enumerate(titles):  # distinct sources: distinct groups, one message each
                body = {"fingerprint": f"soak-{i}", "title": title, "source": f"soak-svc-{i}", "severity": "warning"}
                response = client.post("/v1/alerts", json=body, headers=HEADERS)
                if response.status_code != 202:
                    raise RuntimeError(f"POST /v1/alerts: HTTP {response.status_code}: {response.text[:200]}")
        posted = time.time() - t0
        # Every message needs its slot; a 45009 (a violation) would add the alerter's retry wait.
        timeout = alerts * interval + RETRY_AFTER_45009 + 60
        complete = True
        try:
            procs.wait_until(lambda: len(wecom.messages()) >= alerts, timeout, 0.2, f"{alerts} messages at the robot")
        except TimeoutError:
            complete = False
        time.sleep(min(2.0, interval))  # a duplicate sent just after the last one would show here
        return _report(s, wecom, workers, titles, t0, posted, complete, effective_rate, interval, concurrency)
    finally:
        for proc in started:
            proc.stop()
        if own_robot:
            wecom.stop()


def _report(
    s: Stack,
    wecom: FakeWeCom,
    workers: list[procs.Proc],
    titles: list[str],
    t0: float,
    posted: float,
    complete: bool,
    rate: str,
    interval: float,
    concurrency: int,
) -> dict[str, Any]:
    messages = sorted(wecom.messages(), key=lambda m: m.at)
    answers = Counter(a.errcode for a in wecom.attempts())
    times = [m.at for m in messages]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    max_in_window = wecom.max_in_window(wecom.window_seconds)
    # How close the robot came to refusing: limit + 1 messages must span at least its window.
    limit, window = wecom.limit_per_window, wecom.window_seconds
    spans = [times[i + limit] - times[i] for i in range(len(times) - limit)]
    # Who sent what: the notification's history names the sending child, "host:pid".
    client: MongoClient[dict[str, Any]] = MongoClient(s.mongo.url)
    try:
        notes = list(client[s.db_name][NOTIFICATIONS].find({}, {"history": 1}))
    finally:
        client.close()
    senders = [h["worker"] for note in notes for h in note.get("history", []) if h.get("outcome") == "sent"]
    by_parent: Counter[int] = Counter()
    for sender in senders:
        try:
            by_parent[_parent(int(sender.rsplit(":", 1)[1]))] += 1
        except (OSError, ValueError, IndexError):
            by_parent[-1] += 1  # a child that has since exited
    shares = [by_parent[w.popen.pid] for w in workers]
    requeues = sum(w.log_text().count("rate limited locally") for w in workers)
    per_title = [sum(title in m.content for m in messages) for title in titles]

    violations = []
    if not complete or len(messages) < len(titles):
        violations.append(f"only {len(messages)}/{len(titles)} messages reached the robot")
    if any(n != 1 for n in per_title):
        violations.append(f"alerts not delivered exactly once: {per_title}")
    if max_in_window > limit:
        violations.append(f"{max_in_window} messages in {window:g} s > {limit}")
    if answers[RATE_LIMITED]:
        violations.append(f"{answers[RATE_LIMITED]} answers 45009 (api freq out of limit)")
    if other := {code: n for code, n in answers.items() if code not in (0, RATE_LIMITED)}:
        violations.append(f"other robot errcodes: {other}")
    if len(workers) > 1 and not all(shares):
        violations.append(f"not every alerter process delivered: shares {shares}")
    return {
        "benchmark": "alerter_robot_rate",
        "rate": rate,
        "robot_limit": f"{limit} per {window:g} s",
        "alerter_processes": len(workers),
        "concurrency": concurrency,
        "alerts": len(titles),
        "post_seconds": round(posted, 2),
        "delivered": len(messages),
        "max_in_any_window": max_in_window,
        "errcode_45009": answers[RATE_LIMITED],
        "window_margin_seconds": round(min(spans) - window, 3) if spans else None,
        "expected_gap_seconds": round(interval, 3),
        "min_gap_seconds": round(min(gaps), 3) if gaps else None,
        "mean_gap_seconds": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "first_to_last_seconds": round(times[-1] - times[0], 2) if times else None,
        "all_delivered_seconds": round(times[-1] - t0, 2) if times else None,
        "process_shares": shares,
        "local_requeues": requeues,
        "violations": violations,
    }


def run(alerts: int) -> dict[str, Any]:
    with stack() as s:
        return measure(s, alerts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=30)
    args = parser.parse_args(argv or [])  # ``python -m benchmarks`` passes its own argv
    report = run(args.alerts)
    print(json.dumps(report), flush=True)
    if report["violations"]:
        raise RuntimeError(f"bounds violated: {'; '.join(report['violations'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
