"""The routes file works on whichever worker takes beat's flush, and every worker checks it.

Beat publishes ``flush_alerts`` to the ``maintenance`` queue, which every worker consumes
(docs/contract.md, "Periodic work is owned by no worker"). With a routes file that flush decides
held alerts again (a silence that ended releases its alert), so a summarizer that takes it must
read the same file the alerter does, and refuse to start on one it cannot use. The workers get the
variable their pods get from the chart (the real ``helm template``), so the test holds the chart to
it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragtasks_alerter import routed, store
from ragtasks_alerter.routing import Router, build_router
from ragtasks_core.alerting.matchers import parse_matchers
from ragtasks_core.contract import MAINTENANCE_QUEUE
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.documents import silences as silences_doc
from ragtasks_core.documents.alert_routes import ALERT_ROUTES
from ragtasks_core.documents.alerts import ALERTS, NOTIFICATIONS
from ragtasks_core.settings import Settings
from ragtasks_scheduler.schedule import beat_schedule
from tests.deploy.chart import FULLNAME, by_kind, render, worker_deployment
from tests.integration.helpers import refused_start
from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import wait_until

ROUTES = """
receivers:
  - name: team
    wecom: {{webhook_url: "{team}"}}
route:
  receiver: team
  group_by: [kb]
  group_wait: 0s
  group_interval: 1s
"""
TITLE = "k1 检索为空"


@pytest.fixture
def robot() -> Iterator[FakeWeCom]:
    """The routes' robot (TEAM) and the single robot of RAGTASKS_WECOM_WEBHOOK_URL (DEFAULT), which
    a routes file replaces: the unrouted path would send there."""
    server = FakeWeCom(valid_keys={"TEAM", "DEFAULT"}).start()
    yield server
    server.stop()


def _as_the_chart_mounts_it(worker: str, routes_text: str, tmp_path: Path) -> dict[str, str]:
    """The routes variable of ``worker``'s pod as the chart renders it from ``alerter.routes``, its
    path moved into ``tmp_path`` (standing in for the mount), where the ConfigMap's file is
    written; nothing if the pod has no such variable."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"alerter": {"routes": yaml.safe_load(routes_text)}}), encoding="utf-8")
    manifests = render(values)
    pod = worker_deployment(manifests, worker)["spec"]["template"]
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}
    if "RAGTASKS_ALERT_ROUTES_FILE" not in env:
        return {}
    [mount] = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == "alerter-routes"]
    mounted = tmp_path / "mount"
    mounted.mkdir(exist_ok=True)
    for key, text in by_kind(manifests, "ConfigMap")[f"{FULLNAME}-alerter-routes"]["data"].items():
        (mounted / key).write_text(text, encoding="utf-8")
    in_mount = Path(env["RAGTASKS_ALERT_ROUTES_FILE"]).relative_to(mount["mountPath"])
    return {"RAGTASKS_ALERT_ROUTES_FILE": str(mounted / in_mount)}


def _held_by_a_silence_that_ends(db: Any, router: Router, ends_at: datetime) -> str:
    """What an alerter leaves behind: an alert raised under a silence that ends at ``ends_at``, its
    group flushed with nothing sent, to be looked at again when the silence ends. Returns its id."""
    store.ensure_indexes(db)
    now = datetime.now(UTC)
    silence = silences_doc.new_silence(
        parse_matchers('kb="k1"'), starts_at=now, ends_at=ends_at, comment="已知问题", created_by="ops", now=now
    )
    db[silences_doc.SILENCES].insert_one(silence)
    alert = RaiseAlert.model_validate(
        {"fingerprint": "k1", "severity": "warning", "title": TITLE, "body": "b", "labels": {"kb": "k1"}}
        | {"source": "api"}
    )
    raised = routed.raise_alert(db, router, alert, now)
    assert raised.alert_id is not None and raised.armed
    for group_id, _ in raised.armed:
        assert routed.flush_group(db, router, group_id, now).notifications == []
    [held] = db[ALERT_ROUTES].find({"alert_id": raised.alert_id})
    assert held["outcome"] == "silenced"
    assert abs(held["hold_until"] - ends_at) < timedelta(milliseconds=1)  # Mongo keeps milliseconds
    return raised.alert_id


def test_a_summarizer_running_beats_flush_releases_an_alert_whose_silence_ended(
    worker_env: dict[str, str],
    start_worker: Any,
    celery_client: Any,
    settings: Settings,
    db: Any,
    robot: FakeWeCom,
    tmp_path: Path,
) -> None:
    routes_text = ROUTES.format(team=robot.url("TEAM"))
    routes = tmp_path / "routes.yaml"
    routes.write_text(routes_text, encoding="utf-8")
    router = build_router(
        routes,
        timezone=settings.timezone,
        group_wait=settings.alert_group_wait_seconds,
        repeat_interval=settings.alert_repeat_interval_seconds,
    )
    # The silence ends while the worker starts (a few seconds), so the flush finds it over.
    silence_ends = datetime.now(UTC) + timedelta(seconds=3)
    alert_id = _held_by_a_silence_that_ends(db, router, silence_ends)
    env = {**worker_env, "RAGTASKS_WECOM_WEBHOOK_URL": robot.url("DEFAULT")}
    # The summarizer alone, set up as the chart sets up its pods: nothing else consumes maintenance,
    # so it is the one that runs the flush.
    summarizer_env = env | _as_the_chart_mounts_it("summarizer", routes_text, tmp_path / "summarizer")
    summarizer = start_worker("summarizer", summarizer_env, concurrency=1)
    wait_until(lambda: datetime.now(UTC) > silence_ends, 10, 0.1, "the silence to end")
    entry = beat_schedule(settings)["alerter-flush"]
    assert celery_client.amqp.router.route({}, entry["task"])["queue"].name == MAINTENANCE_QUEUE
    flush = celery_client.send_task(entry["task"], kwargs=entry["kwargs"], **entry["options"])
    # notifications 0 (the unrouted path, which never decides a held alert again) is the defect.
    assert flush.get(timeout=60)["notifications"] == 1
    # The summarizer ran it: its "task success" line follows the stored result, so wait for it.
    wait_until(lambda: flush.id in summarizer.log_text(), 15, 0.2, "the summarizer's line for the flush")
    [note] = db[NOTIFICATIONS].find({"alert_ids": alert_id})
    assert note["receiver"] == "team"
    routing = db[ALERTS].find_one({"_id": alert_id})["routing"]
    assert routing["silenced_by"] == [] and routing["routed_to"][0]["outcome"] == "routed"
    # The flush queued the delivery for the alerter, which sends it on the receiver's own robot.
    start_worker("alerter", env | _as_the_chart_mounts_it("alerter", routes_text, tmp_path / "alerter"), concurrency=1)
    wait_until(lambda: robot.messages(), 30, 0.2, "the released alert at the routes' robot")
    [message] = robot.messages()
    assert message.key == "TEAM" and TITLE in message.content


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the file: FileNotFoundError"),
        (
            "receivers: [{name: team, wecom: {webhook_url_file: /run/secrets/robot}}]\nroute: {receiver: nobody}\n",
            "route: receiver 'nobody' is not defined in receivers",
        ),
    ],
    ids=["missing", "unknown-receiver"],
)
def test_a_summarizer_with_an_unusable_routes_file_refuses_to_start(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path, content: str | None, problem: str
) -> None:
    routes = tmp_path / "routes.yaml"
    log = refused_start(start_worker, "summarizer", worker_env, "RAGTASKS_ALERT_ROUTES_FILE", routes, content)
    assert f"ragtasks: RAGTASKS_ALERT_ROUTES_FILE: {routes}: invalid alert routes file:\n  {problem}" in log
