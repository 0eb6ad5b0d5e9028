"""A worker refuses to start when one of our own retry delays exceeds RAGTASKS_MAX_ETA_SECONDS.

The limit dead-letters a message whose eta lies further ahead (``consumer``); a configured backoff
longer than it contradicts it, so the worker says which setting and stops, rather than clamping the
backoff silently. With the defaults (600, 300, 60 s against 3600 s) every worker starts.
"""

from __future__ import annotations

from typing import Any

import pytest


def test_a_worker_with_a_backoff_beyond_the_eta_limit_refuses_to_start(
    worker_env: dict[str, str], start_worker: Any
) -> None:
    env = {**worker_env, "RAGTASKS_MAX_ETA_SECONDS": "120"}  # below the LLM's 600 s and the alert's 300 s
    with pytest.raises(RuntimeError, match="worker summarizer exited") as refused:
        start_worker("summarizer", env, concurrency=1)
    log = str(refused.value)
    assert "RAGTASKS_LLM_BACKOFF_MAX_SECONDS=600" in log and "RAGTASKS_ALERT_RETRY_MAX_SECONDS=300" in log
    assert "exceed RAGTASKS_MAX_ETA_SECONDS=120" in log
    # A one-line refusal from the command, before Celery starts: no traceback to read through.
    assert "ragtasks worker: RAGTASKS_LLM_BACKOFF_MAX_SECONDS=600" in log and "Traceback" not in log
