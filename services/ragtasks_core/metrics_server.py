"""The ``/metrics`` and ``/healthz`` endpoint of a worker or beat process, served in a thread."""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app, multiprocess
from prometheus_client.exposition import ThreadingWSGIServer

from . import metrics
from .pids import pid_alive


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def reap_dead_processes(directory: str) -> None:
    """Drop the live-gauge files of processes that are gone.

    A child that exits cleanly marks itself dead, but one killed by the hard time limit, the OOM
    killer or ``kill -9`` cannot: without this, ``ragtasks_tasks_in_progress`` would count its
    last task forever. Counters are untouched (their files stay and keep counting).
    """
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.match(name)
        if match and not pid_alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)


def serve_metrics(port: int, host: str) -> ThreadingWSGIServer:
    """Serve ``/metrics`` (aggregated over prefork children) and ``/healthz`` in a thread.

    ``host`` is ``Settings.effective_metrics_host`` (``RAGTASKS_METRICS_HOST``): no default here, so
    no caller binds every interface by accident."""
    metrics_app = make_wsgi_app(metrics.registry_for_scrape())
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if directory:
            reap_dead_processes(directory)
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
