"""The gateway publishes by name and never imports worker code (nor do other publishers)."""

from __future__ import annotations

import subprocess
import sys

WORKER_PACKAGES = ("ragtasks_summarizer", "ragtasks_evaluator", "ragtasks_alerter")


def imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_gateway_app_imports_no_worker_package() -> None:
    modules = imported_after("from ragtasks_gateway.app import create_app; create_app()")
    assert modules.isdisjoint(WORKER_PACKAGES), modules & set(WORKER_PACKAGES)


def test_pika_publisher_imports_neither_celery_nor_the_gateway() -> None:
    modules = imported_after("import ragtasks_publisher")
    assert modules.isdisjoint({"celery", "kombu", "ragtasks_gateway", "ragtasks_core", *WORKER_PACKAGES})
