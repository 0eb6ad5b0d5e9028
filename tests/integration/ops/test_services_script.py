"""``scripts/services.sh``: ``ensure`` checks the processes' URLs, ``ensure-tests`` the tests'.

A developer with a deployment's broker exported (``RAGTASKS_BROKER_URL`` pointing elsewhere) runs
``make test``: the tests use ``RAGTASKS_TEST_BROKER_URL`` or the local broker, so that is what must
be checked, not the exported one. 192.0.2.1 is TEST-NET-1: nothing answers there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "services.sh"
AWAY = {"RAGTASKS_BROKER_URL": "amqp://u:p@192.0.2.1:5672//", "RAGTASKS_RESULT_BACKEND": "redis://192.0.2.1:6379/0"}


def _run(mode: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGTASKS_")} | extra
    return subprocess.run(["bash", str(SCRIPT), mode], env=env, capture_output=True, text=True, timeout=60)


def test_ensure_tests_checks_the_tests_urls_not_an_exported_deployment() -> None:
    result = _run("ensure-tests", AWAY)
    assert result.returncode == 0, result.stderr


def test_ensure_checks_the_processes_urls_and_names_the_variable() -> None:
    result = _run("ensure", AWAY)
    assert result.returncode == 1
    assert "RabbitMQ is not reachable at 192.0.2.1:5672 (RAGTASKS_BROKER_URL)" in result.stderr


def test_an_unknown_mode_is_refused_with_the_usage() -> None:
    result = _run("ensure-everything", {})
    assert result.returncode == 1 and "usage: scripts/services.sh ensure | ensure-tests" in result.stderr
