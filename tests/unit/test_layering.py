"""Who may import whom (docs/architecture.md, "Layers").

- the core (``ragtasks_core``) imports no service package;
- the gateway imports no worker package (nor the scheduler, nor the CLI);
- the workers (and the scheduler) do not import the gateway, nor each other: they import only the core;
- only the composition root, ``ragtasks_cli``, imports everything.

Checked twice: statically, every ``import`` in the source (function-level ones included) and
every string that names a module (``importlib`` targets, ``"module:attr"`` settings); and at run
time, what a process actually loads.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
CORE = "ragtasks_core"
CLI = "ragtasks_cli"
GATEWAY = "ragtasks_gateway"
WORKER_PACKAGES = ("ragtasks_summarizer", "ragtasks_evaluator", "ragtasks_alerter")
SCHEDULER = "ragtasks_scheduler"
PUBLISHER = "ragtasks_publisher"
# A string that is a module path (``pkg.mod`` or ``pkg.mod:attr``), as importlib or Celery take it.
_MODULE_STRING = re.compile(r"^(ragtasks_[a-z]+)(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?$")


def packages() -> list[str]:
    return sorted(p.name for p in SERVICES.iterdir() if p.is_dir() and (p / "__init__.py").exists())


def service_packages() -> set[str]:
    # ragtasks_publisher is a leaf library (pika only, it imports no ragtasks package; a test below
    # holds it to that), so it sits *below* the core: the core's pika tools share its URL parser.
    return set(packages()) - {CORE, PUBLISHER}


@cache
def references(package: str) -> dict[str, set[str]]:
    """Other ragtasks packages ``package`` imports or names as a module -> the files that do."""
    found: dict[str, set[str]] = {}
    for path in sorted((SERVICES / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = _MODULE_STRING.match(node.value)
                names = [node.value] if match else []
            for name in names:
                top = name.split(".")[0].split(":")[0]
                if top != package and top in packages():
                    found.setdefault(top, set()).add(str(path.relative_to(SERVICES)))
    return found


def imported_modules(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())


def imported_after(statement: str) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(statement)}


# --- the core imports no service package ------------------------------------------------------


def test_the_core_imports_no_service_package() -> None:
    upward = {pkg: files for pkg, files in references(CORE).items() if pkg in service_packages()}
    assert not upward, f"ragtasks_core must not depend on the services built on it: {upward}"


def test_loading_every_core_module_loads_no_service_package() -> None:
    statement = (
        "import importlib, pkgutil, ragtasks_core\n"
        "for m in pkgutil.walk_packages(ragtasks_core.__path__, 'ragtasks_core.'): importlib.import_module(m.name)"
    )
    loaded = imported_after(statement)
    assert loaded.isdisjoint(service_packages()), loaded & service_packages()


# --- the gateway imports no worker package ------------------------------------------------------


def test_the_gateway_imports_no_worker_package() -> None:
    refs = references(GATEWAY)
    assert set(refs) <= {CORE}, f"the gateway publishes by name and imports only the core: {refs}"


def test_the_gateway_app_loads_no_worker_package() -> None:
    modules = imported_after("from ragtasks_gateway.app import create_app; create_app()")
    assert modules.isdisjoint({*WORKER_PACKAGES, SCHEDULER, CLI}), modules & {*WORKER_PACKAGES, SCHEDULER, CLI}


def test_the_gateway_does_not_load_the_worker_runtime() -> None:
    # Worker start-up and its signal handlers (task metrics, failure alerts) have no business in
    # the gateway: connected there, they would count its publishes as worker events.
    modules = imported_modules("from ragtasks_gateway.app import create_app; create_app()")
    worker_runtime = {"ragtasks_core.worker", "ragtasks_core.worker_signals", "ragtasks_core.failure_alerts"}
    assert modules.isdisjoint(worker_runtime), modules & worker_runtime


# --- workers don't import the gateway --------------------------------------------------------------


def test_workers_and_the_scheduler_import_only_the_core() -> None:
    for package in (*WORKER_PACKAGES, SCHEDULER):
        refs = references(package)
        assert set(refs) <= {CORE}, f"{package} may import only ragtasks_core: {refs}"


def test_the_pika_publisher_imports_neither_celery_nor_any_ragtasks_package() -> None:
    assert not references(PUBLISHER)
    modules = imported_after("import ragtasks_publisher")
    assert modules.isdisjoint({"celery", "kombu", "pydantic", *packages()} - {PUBLISHER})


# --- only ragtasks_cli imports everything -----------------------------------------------------------


def test_only_the_composition_root_imports_service_packages() -> None:
    for package in service_packages() - {CLI}:
        refs = set(references(package))
        assert refs <= {CORE}, f"only ragtasks_cli may import service packages; {package} imports {refs - {CORE}}"


def test_the_composition_root_wires_every_package() -> None:
    assert set(references(CLI)) == set(packages()) - {CLI}
