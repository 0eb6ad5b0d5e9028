"""The Prometheus multiprocess directory of a prefork worker started without one."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
OWNED_DIR_ENV = "RAGTASKS_OWNED_MULTIPROC_DIR"


def ensure_multiproc_dir() -> None:
    """Prefork children each write metric files; without a shared directory /metrics undercounts.

    The start-up scripts (scripts/docker-entrypoint.sh, scripts/run-local.sh) set and wipe
    ``PROMETHEUS_MULTIPROC_DIR``. Started bare, the worker makes a fresh private directory and
    re-executes itself with it: prometheus_client chooses its storage when first imported, so
    setting the variable from inside an already running Python is exactly the pitfall. The
    directory is removed when the worker exits.
    """
    path = os.environ.get(MULTIPROC_DIR_ENV)
    if path:
        if os.environ.get(OWNED_DIR_ENV) == path:
            owner = os.getpid()
            atexit.register(_remove_owned_dir, path, owner)
        return
    path = tempfile.mkdtemp(prefix="ragtasks-metrics-")
    print(f"ragtasks: {MULTIPROC_DIR_ENV} is not set; using {path} (removed at exit)", file=sys.stderr, flush=True)
    env = {**os.environ, MULTIPROC_DIR_ENV: path, OWNED_DIR_ENV: path}
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)  # noqa: S606 - our own argv, re-run


def _remove_owned_dir(path: str, owner: int) -> None:
    if os.getpid() == owner:  # forked pool children inherit atexit hooks; only the worker cleans up
        shutil.rmtree(path, ignore_errors=True)
