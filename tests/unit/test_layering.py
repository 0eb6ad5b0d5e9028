"""The gateway publishes by name and never imports worker code (nor do other publishers)."""

from __future__ import annotations

import subprocess
import sys

WORKER_PACKAGES = ("ragtasks_summarizer", "ragtasks_evaluator", "ragtasks_alerter")


def imported_modules(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def imported_after(statement: str) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(statement)}


def test_gateway_app_imports_no_worker_package() -> None:
    modules = imported_after("from ragtasks_gateway.app import create_app; create_app()")
    assert modules.isdisjoint(WORKER_PACKAGES), modules & set(WORKER_PACKAGES)


def test_gateway_does_not_load_the_worker_runtime() -> None:
    # ragtasks_core.worker connects Celery signal handlers (task metrics, failure alerts) on import:
    # loaded in the gateway they would count its publishes as worker events.
    modules = imported_modules("from ragtasks_gateway.app import create_app; create_app()")
    assert modules.isdisjoint({"ragtasks_core.worker", "ragtasks_core.failure_alerts"}), modules


def test_pika_publisher_imports_neither_celery_nor_the_gateway() -> None:
    modules = imported_after("import ragtasks_publisher")
    assert modules.isdisjoint({"celery", "kombu", "ragtasks_gateway", "ragtasks_core", *WORKER_PACKAGES})
