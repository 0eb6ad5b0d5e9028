"""Routes, mentions, silences, inhibition and quiet hours end to end (issue 14): the real gateway,
alerter workers and beat, one local WeCom robot double per receiver (each enforcing its own limit).
"""

from __future__ import annotations

import itertools
import math
import os
import struct
import time
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import LOG_DIR
from tests.integration.helpers import auth, gateway_client
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import metric_value, metrics_text, start_beat, start_together, wait_until
from tests.unit.alerter.routing.examples import ISSUE_EXAMPLE as EXAMPLE

# The issue's example (the unit tests' copy, verbatim), with the robots' URLs pointing at the doubles.
ISSUE_EXAMPLE = EXAMPLE.replace("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TEAM", "{team}").replace(
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ONCALL", "{oncall}"
)


@pytest.fixture
def robots() -> Iterator[dict[str, FakeWeCom]]:
    """One robot double per receiver, each with its own key and its own 20/60 s limit."""
    started = {name: FakeWeCom(valid_keys={name.upper()}).start() for name in ("team", "oncall")}
    yield started
    for robot in started.values():
        robot.stop()


def routes_env(worker_env: dict[str, str], tmp_path: Path, text: str, **extra: str) -> dict[str, str]:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return {
        **worker_env,
        "RAGTASKS_ALERT_ROUTES_FILE": str(path),
        "RAGTASKS_ALERT_FLUSH_INTERVAL_SECONDS": "1",
        # The gateway's publish waits 1.5 s for the broker's confirm by default; a machine shared by
        # many test runs can be slower, and these tests run no outbox sweep (summarizer) to catch up.
        "RAGTASKS_PUBLISH_TIMEOUT_SECONDS": "10",
    } | extra


def post_alert(client: httpx.Client, **body: Any) -> str:
    """Raise an alert through the API and return its id once the alerter has recorded it."""

    def find() -> str | None:
        listed = client.get("/v1/alerts", params={"source": body.get("source", "api")}, headers=auth()).json()
        return next((a["id"] for a in listed["alerts"] if a["fingerprint"] == body["fingerprint"]), None)

    # Should the gateway's publish still time out, the alert waits in the outbox for the
    # summarizer's sweep, which these tests do not run. Posting again is safe: the fingerprint
    # makes it the same alert.
    for attempt in range(3):
        assert client.post("/v1/alerts", json=body, headers=auth()).status_code == 202
        try:
            found: str = wait_until(find, 10 * (attempt + 1), 0.2, f"alert {body['fingerprint']} recorded")
            return found
        except TimeoutError:
            continue
    raise AssertionError(f"alert {body['fingerprint']} was never recorded")


def post_all(client: httpx.Client, bodies: list[dict[str, Any]]) -> None:
    """Raise every alert, posting again any the alerter has not recorded after 10 s (see post_alert)."""
    for _ in range(3):
        recorded = {a["fingerprint"] for a in client.get("/v1/alerts", headers=auth()).json()["alerts"]}
        missing = [b for b in bodies if b["fingerprint"] not in recorded]
        if not missing:
            return
        for body in missing:
            assert client.post("/v1/alerts", json=body, headers=auth()).status_code == 202
        try:
            wait_until(lambda: len(client.get("/v1/alerts", headers=auth()).json()["alerts"]) >= len(bodies), 10)
        except TimeoutError:
            continue
    recorded = {a["fingerprint"] for a in client.get("/v1/alerts", headers=auth()).json()["alerts"]}
    assert recorded >= {b["fingerprint"] for b in bodies}


def get_alert(client: httpx.Client, alert_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/alerts/{alert_id}", headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_issue_example_routes_and_mentions(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, robots: dict[str, FakeWeCom], tmp_path: Path
) -> None:
    env = routes_env(
        worker_env,
        tmp_path,
        ISSUE_EXAMPLE.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL")),
    )
    worker, gw = start_together(lambda: start_worker("alerter", env, concurrency=2), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        warning = post_alert(client, fingerprint="w1", title="检索为空 k1", labels={"kb": "k1"})
        critical = post_alert(client, fingerprint="c1", title="向量库不可用", severity="critical", labels={"kb": "k1"})
        wait_until(lambda: len(robots["team"].messages()) == 1 and len(robots["oncall"].messages()) == 1, 30)
        [team] = robots["team"].messages()
        [oncall] = robots["oncall"].messages()
        assert "检索为空 k1" in team.content and "向量库不可用" not in team.content
        assert "<@zhangsan>" not in team.content
        # Markdown (the example's default): the user is mentioned in the content, <@userid>.
        assert oncall.body["msgtype"] == "markdown"
        assert oncall.body["markdown"]["content"].endswith("\n<@zhangsan>")
        assert "向量库不可用" in oncall.content and "api k1" in oncall.content  # the group: source, kb
        shown = get_alert(client, critical)
        assert [(r["receiver"], r["outcome"]) for r in shown["routed_to"]] == [("oncall", "routed")]
        assert shown["routed_to"][0]["group_key"] == 'route.routes[0]:{kb="k1",source="api"}'
        assert shown["silenced_by"] == [] and shown["inhibited_by"] is None and shown["muted_until"] is None
        wait_until(lambda: get_alert(client, critical)["delivery_channels"] == {"oncall": "sent"}, 20)
        assert get_alert(client, warning)["delivery_channels"] == {"team": "sent"}
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_alerts_total", {"channel": "wecom", "outcome": "routed"}) == 2
    assert metric_value(text, "ragtasks_alerts_total", {"channel": "wecom", "outcome": "sent"}) == 2


def test_text_receivers_carry_wecoms_mention_lists(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, robots: dict[str, FakeWeCom], tmp_path: Path
) -> None:
    text = ISSUE_EXAMPLE.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL")).replace(
        '      mention_users: ["zhangsan"]', '      message_type: text\n      mention_users: ["zhangsan"]'
    )
    env = routes_env(worker_env, tmp_path, text)
    _, gw = start_together(lambda: start_worker("alerter", env, concurrency=1), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        post_alert(client, fingerprint="c1", title="**严重** 故障", severity="critical")
    wait_until(lambda: len(robots["oncall"].messages()) == 1, 30)
    body = robots["oncall"].messages()[0].body
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_list"] == ["zhangsan"]
    assert body["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert "<font" not in body["text"]["content"] and "严重" in body["text"]["content"]


SILENCE_ROUTES = ISSUE_EXAMPLE.replace(
    "  group_wait: 0s\n", "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 4s\n"
)


def test_a_silence_created_during_a_firing_alert(
    worker_env: dict[str, str],
    start_worker: Any,
    start_gateway: Any,
    processes: list[Any],
    robots: dict[str, FakeWeCom],
    tmp_path: Path,
) -> None:
    env = routes_env(
        worker_env,
        tmp_path,
        SILENCE_ROUTES.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL")),
    )
    _, gw = start_together(lambda: start_worker("alerter", env, concurrency=2), lambda: start_gateway(env))
    processes.append(start_beat(env, LOG_DIR))
    team = robots["team"]
    with gateway_client(gw.port) as client:
        alert_id = post_alert(client, fingerprint="k1", title="k1 为空", labels={"kb": "k1"})
        wait_until(lambda: len(team.messages()) == 1, 30, message="the first message")
        # Bad silences are refused with the reason.
        now = datetime.now(UTC)
        bad = {"matchers": ['kb=~".*"'], "ends_at": (now + timedelta(hours=1)).isoformat()}
        bad |= {"comment": "c", "created_by": "ops"}
        answer = client.post("/v1/silences", json=bad, headers=auth())
        assert answer.status_code == 422 and "empty string" in answer.text
        answer = client.post(
            "/v1/silences", json=bad | {"matchers": ['kb="k1'], "ends_at": now.isoformat()}, headers=auth()
        )
        assert answer.status_code == 422
        created = client.post(
            "/v1/silences",
            json={
                "matchers": ['kb="k1"'],
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
                "comment": "已知问题，正在处理",
                "created_by": "zhangsan",
            },
            headers=auth(),
        )
        assert created.status_code == 201, created.text
        silence = created.json()
        assert silence["state"] == "active" and silence["matchers"] == ['kb="k1"']
        # Its repeat (every 4 s) is held: the alert records the silence and nothing is sent.
        wait_until(lambda: get_alert(client, alert_id)["silenced_by"] == [silence["id"]], 20)
        sent_before = len(team.messages())
        time.sleep(6)
        assert len(team.messages()) == sent_before
        assert get_alert(client, alert_id)["routed_to"][0]["outcome"] == "silenced"
        listed = client.get("/v1/silences", headers=auth()).json()["silences"]
        assert [s["id"] for s in listed] == [silence["id"]]
        # The silence ends; the alert still fires: it is sent.
        ended = client.delete(f"/v1/silences/{silence['id']}", headers=auth())
        assert ended.status_code == 200 and ended.json()["state"] == "expired"
        wait_until(lambda: len(team.messages()) > sent_before, 20, message="the message after the silence")
        assert "k1 为空" in team.messages()[-1].content
        assert get_alert(client, alert_id)["silenced_by"] == []
        assert client.delete("/v1/silences/si-unknown", headers=auth()).status_code == 404


INHIBIT_ROUTES = (
    ISSUE_EXAMPLE
    + """
inhibit_rules:
  - source_matchers: ['alertname="BrokerDown"']
    target_matchers: ['source="task_failure"']
    equal: [cluster]
"""
)


def test_a_firing_source_inhibits_its_targets(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, robots: dict[str, FakeWeCom], tmp_path: Path
) -> None:
    text = INHIBIT_ROUTES.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL"))
    env = routes_env(worker_env, tmp_path, text)
    worker, gw = start_together(lambda: start_worker("alerter", env, concurrency=2), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        broker = post_alert(
            client, fingerprint="broker", title="RabbitMQ 不可用", source="alertmanager", severity="critical",
            labels={"alertname": "BrokerDown", "cluster": "c1"},
        )  # fmt: skip
        wait_until(lambda: len(robots["oncall"].messages()) == 1, 30)
        target = post_alert(client, fingerprint="t1", title="任务失败", source="task_failure", labels={"cluster": "c1"})
        # Another group (kb): t1's group has just flushed (with nothing to send) and would wait group_interval.
        other = post_alert(
            client, fingerprint="t2", title="别的集群", source="task_failure", labels={"cluster": "c2", "kb": "k2"}
        )
        wait_until(lambda: len(robots["team"].messages()) == 1, 30)
        time.sleep(2)
        assert [m.content for m in robots["team"].messages() if "任务失败" in m.content] == []
        shown = get_alert(client, target)
        assert shown["inhibited_by"] == broker and shown["routed_to"][0]["outcome"] == "inhibited"
        assert get_alert(client, other)["inhibited_by"] is None
    text = metrics_text(worker.port)
    assert metric_value(text, "ragtasks_alerts_total", {"channel": "wecom", "outcome": "inhibited"}) == 1


# Windows are Alertmanager's, to the minute, and in every real time zone a minute ends when UTC's
# does: waiting for one would take up to 80 s. The window's zone (its ``location``) is instead one
# of the test's own, UTC plus 0-59 s, chosen so that a local minute ends QUIET_MARGIN seconds from
# now: time for the three processes to start and the alert to arrive inside the window. (Only the
# window's: as Celery's own zone, RAGTASKS_TIMEZONE, an offset in seconds would put "+00:00:25"
# in message headers, which no real zone does today and the consumer refuses.)
QUIET_MARGIN = 20  # the old test's least margin too; a worker and the gateway start in ~6 s here
QUIET_ZONE = "RagtasksTest/Quiet"


def _fixed_zone_tzif(offset_seconds: int) -> bytes:
    """A TZif file (RFC 8536, version 2) for a zone always ``offset_seconds`` east of UTC."""
    abbr = b"QTZ\0"
    # One local time type and no transitions, in the 32-bit block and again in the 64-bit one.
    block = b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, len(abbr))
    block += struct.pack(">lBB", offset_seconds, 0, 0) + abbr
    minutes, seconds = divmod(offset_seconds, 60)
    return block + block + f"\nQTZ-0:{minutes:02d}:{seconds:02d}\n".encode()  # POSIX: east is "-"


def _quiet_zone(tz_dir: Path) -> tuple[dict[str, str], ZoneInfo, datetime]:
    """A zone whose next minute boundary is QUIET_MARGIN s away: the processes' environment that
    finds it, the zone, and that boundary (when the window closes)."""
    closes = math.ceil(time.time()) + QUIET_MARGIN
    offset = -closes % 60
    path = tz_dir / QUIET_ZONE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_zone_tzif(offset))
    with path.open("rb") as fh:
        tz = ZoneInfo.from_file(fh, key=QUIET_ZONE)
    env = {"PYTHONTZPATH": os.pathsep.join([str(tz_dir), *zoneinfo.TZPATH])}  # where the processes find it
    return env, tz, datetime.fromtimestamp(closes, tz)


def test_a_quiet_window_that_ends_during_the_test(
    worker_env: dict[str, str],
    start_worker: Any,
    start_gateway: Any,
    processes: list[Any],
    robots: dict[str, FakeWeCom],
    tmp_path: Path,
) -> None:
    # The current local minute is quiet; it ends QUIET_MARGIN s from now (see _quiet_zone).
    zone_env, tz, ends_at = _quiet_zone(tmp_path / "zoneinfo")
    start, end = ends_at - timedelta(minutes=1), ends_at
    end_text = "24:00" if end.date() != start.date() else f"{end:%H:%M}"
    text = ISSUE_EXAMPLE.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL"))
    text = (
        text.replace(
            "      receiver: oncall\n",
            "      receiver: oncall\n    - matchers: ['kb=\"k1\"']\n      receiver: team\n"
            "      mute_time_intervals: [quiet]\n",
        )
        + "time_intervals:\n  - name: quiet\n    time_intervals:\n"
        + f'      - times: [{{start_time: "{start:%H:%M}", end_time: "{end_text}"}}]\n'
        + f"        location: {QUIET_ZONE}\n"
    )
    env = routes_env(worker_env, tmp_path, text, **zone_env)
    _, gw = start_together(lambda: start_worker("alerter", env, concurrency=1), lambda: start_gateway(env))
    processes.append(start_beat(env, LOG_DIR))
    with gateway_client(gw.port) as client:
        alert_id = post_alert(client, fingerprint="q1", title="夜间告警", labels={"kb": "k1"})
        muted = "the alert muted (or did the processes take longer than QUIET_MARGIN to start?)"
        wait_until(lambda: get_alert(client, alert_id)["muted_until"] is not None, 20, message=muted)
        shown = get_alert(client, alert_id)
        assert datetime.fromisoformat(shown["muted_until"]) == ends_at
        assert shown["routed_to"][0]["outcome"] == "muted"
        # Sent by beat's flush once the window closes; should the deliver task's publish be lost to
        # a slow broker, the sweep republishes it 30 s later (service.STUCK_GRACE_SECONDS).
        wait_until(lambda: len(robots["team"].messages()) == 1, (ends_at - datetime.now(tz)).total_seconds() + 50)
    arrived = datetime.fromtimestamp(robots["team"].messages()[0].at, tz)
    assert arrived >= ends_at, (arrived, ends_at)  # held, not dropped, and not early
    late = (arrived - ends_at).total_seconds()
    print(f"quiet window {start:%H:%M}-{end_text} (UTC{ends_at:%z}): sent {late:.1f}s after it closed")


RATE_ROUTES = """
receivers:
  - name: team
    wecom: {{webhook_url: "{team}"}}
  - name: oncall
    wecom: {{webhook_url: "{oncall}"}}
route:
  receiver: team
  group_by: [source]
  group_wait: 0s
  routes:
    - matchers: ['severity="critical"']
      receiver: oncall
"""
# 40/m (one message per 1.5 s) proves the limits in seconds; the default 20/m is the same GCRA.
RATE, INTERVAL, PER_ROBOT = "40/m", 1.5, 6


def test_each_robot_keeps_its_own_rate_limit_across_two_alerter_processes(
    worker_env: dict[str, str],
    start_worker: Any,
    start_gateway: Any,
    robots: dict[str, FakeWeCom],
    tmp_path: Path,
    db: Any,
) -> None:
    for robot in robots.values():
        robot.limit_per_window, robot.window_seconds = 40, 60
    text = RATE_ROUTES.format(team=robots["team"].url("TEAM"), oncall=robots["oncall"].url("ONCALL"))
    env = routes_env(
        worker_env, tmp_path, text, RAGTASKS_WECOM_RATE_LIMIT=RATE, RAGTASKS_ALERT_RATE_LIMIT_MAX_WAIT_SECONDS="1"
    )
    *workers, gw = start_together(
        lambda: start_worker("alerter", env, concurrency=2),
        lambda: start_worker("alerter", env, concurrency=2),
        lambda: start_gateway(env),
    )
    with gateway_client(gw.port) as client:
        bodies = [  # distinct sources: distinct groups, one message each
            {"fingerprint": f"{severity}-{i}", "title": f"alert {i}", "source": f"svc-{i}", "severity": severity}
            for i in range(PER_ROBOT)
            for severity in ("warning", "critical")
        ]
        post_all(client, bodies)
    total = 2 * PER_ROBOT
    wait_until(lambda: sum(len(r.messages()) for r in robots.values()) == total, total * INTERVAL + 30)
    for name, robot in robots.items():
        times = [m.at for m in robot.messages()]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        print(f"{name}: gaps {[round(g, 2) for g in gaps]}")
        assert min(gaps) >= INTERVAL / 2, (name, gaps)  # see test_rate_limit.py for the tolerance
        assert all(r.errcode == 0 for r in robot.attempts())
    # Each robot has its own bucket: the two streams run side by side, not one after the other.
    # With one shared bucket no two messages, whichever robot, could arrive within INTERVAL / 2.
    spans = {name: (r.messages()[0].at, r.messages()[-1].at) for name, r in robots.items()}
    assert spans["oncall"][0] < spans["team"][1] and spans["team"][0] < spans["oncall"][1], spans
    merged = sorted((m.at, name) for name, r in robots.items() for m in r.messages())
    close = [(a, b) for a, b in itertools.pairwise(merged) if b[0] - a[0] < INTERVAL / 2]
    assert close and all(a[1] != b[1] for a, b in close), merged
    # Both processes sent (an attempt records the sending child's pid; its parent is the worker).
    senders = {a["worker"] for doc in db["alerts"].find() for a in doc["attempts"] if a["outcome"] == "sent"}
    assert {_parent(int(s.rsplit(":", 1)[1])) for s in senders} == {w.popen.pid for w in workers}, senders


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
