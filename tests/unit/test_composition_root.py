"""The composition root wires a worker explicitly: its task modules, its signal handlers.

Each check runs in a fresh interpreter: Celery's signals and ``shared_task`` registrations are
process-wide, so what one test imports must not decide what another sees.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ragtasks_core.contract import SCHEDULED_TASKS, Queue, TaskName, queue_for

SIGNALS = ("worker_process_init", "worker_process_shutdown", "worker_shutdown", "task_prerun", "task_postrun")


def run_python(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("queue", list(Queue))
def test_each_worker_registers_exactly_the_tasks_of_its_queue(queue: Queue) -> None:
    registered = run_python(
        "import json\n"
        "from ragtasks_cli.worker import TASK_MODULES\n"
        "from ragtasks_core.contract import Queue\n"
        "from ragtasks_core.settings import Settings\n"
        "from ragtasks_core.worker import build_worker_app\n"
        f"queue = Queue({queue.value!r})\n"
        "app = build_worker_app(Settings(), queue, task_modules=TASK_MODULES[queue])\n"
        "print(json.dumps(sorted(n for n in app.tasks if n.startswith('ragtasks.'))))"
    )
    assert registered == sorted(t.value for t in TaskName if queue_for(t.value) is queue)


@pytest.mark.parametrize("queue", list(Queue))
def test_every_worker_also_registers_beats_periodic_tasks(queue: Queue) -> None:
    # What `ragtasks worker NAME` loads: its own modules and the periodic ones (maintenance queue).
    registered = run_python(
        "import json\n"
        "from ragtasks_cli.worker import task_modules_for\n"
        "from ragtasks_core.contract import Queue\n"
        "from ragtasks_core.settings import Settings\n"
        "from ragtasks_core.worker import build_worker_app\n"
        f"queue = Queue({queue.value!r})\n"
        "app = build_worker_app(Settings(), queue, task_modules=task_modules_for(queue))\n"
        "print(json.dumps(sorted(n for n in app.tasks if n.startswith('ragtasks.'))))"
    )
    own = {t.value for t in TaskName if queue_for(t.value) is queue}
    assert own | SCHEDULED_TASKS <= set(registered)


def test_importing_the_worker_runtime_connects_nothing_and_installing_is_idempotent() -> None:
    counts = run_python(
        "import json\n"
        "from celery import signals\n"
        f"names = {SIGNALS!r} + ('task_failure', 'before_task_publish')\n"
        "def count(): return {n: len(getattr(signals, n).receivers) for n in names}\n"
        "before = count()\n"
        "import ragtasks_core.worker, ragtasks_core.worker_signals, ragtasks_core.failure_alerts\n"
        "import ragtasks_core.celery_app, ragtasks_summarizer.tasks, ragtasks_summarizer.sweep\n"
        "imported = count()\n"
        "from ragtasks_core.celery_app import create_celery\n"
        "from ragtasks_core.failure_alerts import install_failure_alerts\n"
        "from ragtasks_core.settings import Settings\n"
        "from ragtasks_core.worker_signals import install_worker_signals\n"
        "for _ in range(2):\n"
        "    app = create_celery(Settings())\n"
        "    install_worker_signals(app)\n"
        "    install_failure_alerts()\n"
        "installed = count()\n"
        "print(json.dumps({'before': before, 'imported': imported, 'installed': installed}))"
    )
    assert isinstance(counts, dict)
    assert counts["imported"] == counts["before"], "importing must not connect a signal handler"
    added = {name: counts["installed"][name] - counts["before"][name] for name in counts["before"]}
    assert added == dict.fromkeys((*SIGNALS, "task_failure", "before_task_publish"), 1)


def test_only_workers_that_count_tokens_load_the_tokenizer() -> None:
    # Importing bpe_openai costs 1-2 s per process: the alerter (and an offline evaluator) skip it,
    # though every worker imports the summarizer's task modules for the periodic jobs.
    loaded = run_python(
        "import json, sys\n"
        "from ragtasks_cli.worker import counts_tokens, task_modules_for\n"
        "from ragtasks_core.contract import Queue\n"
        "from ragtasks_core.settings import Settings\n"
        "import importlib\n"
        "for module in task_modules_for(Queue.ALERTER):\n"
        "    importlib.import_module(module)\n"
        "offline, online = Settings(), Settings(llm_base_url='http://127.0.0.1:1/v1', llm_api_key='k')\n"
        "counts = [counts_tokens(q, s) for s in (offline, online) for q in Queue]\n"
        "print(json.dumps(['bpe_openai' in sys.modules, *counts]))"
    )
    assert loaded == [False, True, False, False, True, True, False]


def test_only_workers_that_talk_to_an_llm_load_openai_and_none_loads_datasketch() -> None:
    # Every worker imports every task module (the periodic jobs): openai (~0.7 s of CPU) and
    # datasketch with scipy (~1.1 s) at module level made each worker start 3.4 s of imports
    # instead of 1.3 s. The client is loaded before the fork only where it is used.
    loaded = run_python(
        "import json, sys\n"
        "from ragtasks_cli.worker import talks_to_an_llm, task_modules_for\n"
        "from ragtasks_core.contract import Queue\n"
        "from ragtasks_core.settings import Settings\n"
        "import importlib\n"
        "for queue in Queue:\n"
        "    for module in task_modules_for(queue):\n"
        "        importlib.import_module(module)\n"
        "offline, online = Settings(), Settings(llm_base_url='http://127.0.0.1:1/v1', llm_api_key='k')\n"
        "talks = [talks_to_an_llm(q, s) for s in (offline, online) for q in Queue]\n"
        "print(json.dumps(['openai' in sys.modules, 'datasketch' in sys.modules, *talks]))"
    )
    assert loaded == [False, False, False, False, False, True, True, False]
