"""``ragtasks worker NAME`` reaches Celery as: its own queue, its own concurrency."""

from __future__ import annotations

import pytest

from ragtasks_cli.main import build_parser
from ragtasks_cli.worker import celery_worker_argv
from ragtasks_core.settings import Settings


def argv_for(*cli: str, **settings: object) -> list[str]:
    return celery_worker_argv(build_parser().parse_args(["worker", *cli]), Settings(**settings))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["summarizer", "evaluator", "alerter"])
def test_each_worker_consumes_only_its_own_queue_with_its_own_concurrency(name: str) -> None:
    argv = argv_for(name, summarizer_concurrency=3, evaluator_concurrency=5, alerter_concurrency=7)
    expected = {"summarizer": 3, "evaluator": 5, "alerter": 7}[name]
    assert f"--queues={name},maintenance" in argv  # its own queue, and beat's periodic work
    assert f"--concurrency={expected}" in argv
    assert f"--hostname={name}@%h" in argv
    assert "--prefetch-multiplier=1" in argv


def test_flags_override_settings() -> None:
    argv = argv_for(
        "evaluator",
        "--concurrency",
        "4",
        "--pool",
        "threads",
        "--max-tasks-per-child",
        "9",
        "--hostname",
        "ev-1@%h",
        evaluator_concurrency=2,
    )
    assert {"--concurrency=4", "--pool=threads", "--max-tasks-per-child=9", "--hostname=ev-1@%h"} <= set(argv)


def test_unknown_worker_is_a_cli_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["worker", "indexer"])
    assert exc.value.code == 2
    assert "invalid choice: 'indexer'" in capsys.readouterr().err
