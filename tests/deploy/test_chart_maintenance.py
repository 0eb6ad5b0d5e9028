"""Periodic work survives any one worker being disabled (issue 15): every worker Deployment the
chart renders runs ``ragtasks worker NAME``, and that command consumes ``maintenance`` besides
NAME (the CLI decides the queues, so the chart and the CLI are checked together)."""

from __future__ import annotations

import pytest

from ragtasks_cli.main import build_parser
from ragtasks_cli.worker import celery_worker_argv
from ragtasks_core.contract import MAINTENANCE_QUEUE
from ragtasks_core.settings import Settings
from tests.deploy.chart import FULLNAME, WORKERS, by_kind, render


def _queues_consumed(manifests: list[dict]) -> dict[str, set[str]]:
    consumed = {}
    for name, deployment in by_kind(manifests, "Deployment").items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        args = container.get("args") or container.get("command")
        if args[0] != "worker":
            continue
        argv = celery_worker_argv(build_parser().parse_args(args), Settings())
        [queues] = [a.split("=", 1)[1] for a in argv if a.startswith("--queues=")]
        consumed[name] = set(queues.split(","))
    return consumed


@pytest.mark.parametrize("disabled", WORKERS)
def test_some_worker_still_consumes_maintenance(disabled: str) -> None:
    consumed = _queues_consumed(render(None, f"workers.{disabled}.enabled=false"))
    assert f"{FULLNAME}-worker-{disabled}" not in consumed
    assert consumed and all(MAINTENANCE_QUEUE in queues for queues in consumed.values()), consumed


def test_every_worker_consumes_its_own_queue_and_maintenance() -> None:
    consumed = _queues_consumed(render())
    assert consumed == {f"{FULLNAME}-worker-{w}": {w, MAINTENANCE_QUEUE} for w in WORKERS}
