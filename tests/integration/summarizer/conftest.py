"""Helpers for the summarizer's reliability tests: a routed fake LLM, seeded sessions, settings.

``seed_session`` lives in ``tests/support/sessions.py`` (the benchmarks seed with it too); the tests
import it from here.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from tests.support.fake_openai import FakeOpenAI, Reply, Request
from tests.support.procs import Proc, wait_until
from tests.support.sessions import seed_session as seed_session  # re-exported: the tests import it from here

MARKER_RE = re.compile(r"\[\[([A-Za-z0-9_-]+)\]\]")


@dataclass
class RoutedFakeOpenAI(FakeOpenAI):
    """The fake OpenAI server with one script per scenario, so scenarios can run concurrently.

    A scenario is named by a ``[[marker]]`` in the conversation (it reaches the server inside the
    prompt's transcript); requests without a scripted reply get the normal 200 answer.
    """

    scripts: dict[str, deque[Reply]] = field(default_factory=dict)

    def script_for(self, marker: str, *replies: Reply) -> None:
        with self._lock:
            self.scripts.setdefault(marker, deque()).extend(replies)

    def _next(self, path: str, body: dict[str, Any]) -> Reply:
        marker = _marker_of(body)
        with self._lock:
            self.requests.append(Request(time.time(), path, body))
            script = self.scripts.get(marker or "")
            return script.popleft() if script else Reply()

    def arrivals(self, marker: str) -> list[float]:
        return [r.at for r in self.chat_requests() if _marker_of(r.body) == marker]


def _marker_of(body: dict[str, Any]) -> str | None:
    for message in body.get("messages", []):
        found = MARKER_RE.search(str(message.get("content", "")))
        if found:
            return found.group(1)
    return None


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 2) for a, b in itertools.pairwise(times)]


@pytest.fixture
def routed_llm() -> Iterator[RoutedFakeOpenAI]:
    server = RoutedFakeOpenAI()
    server.start()
    yield server
    server.stop()


def llm_env(env: dict[str, str], llm: FakeOpenAI, **overrides: str) -> dict[str, str]:
    """Worker/gateway environment with the fake LLM and ``RAGTASKS_*`` overrides (upper-case names)."""
    return {
        **env,
        **llm.env(),
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "1",
        **{f"RAGTASKS_{k}": v for k, v in overrides.items()},
    }


@pytest.fixture
def settings_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Settings]:
    def build(env: dict[str, str]) -> Settings:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Settings()

    return build


def publish_summary(celery_app: Any, session_id: str, task_id: str) -> None:
    celery_app.send_task(
        TaskName.SUMMARIZE_SESSION.value, kwargs={"v": 1, "session_id": session_id, "reason": "manual"}, task_id=task_id
    )


@pytest.fixture
def api(client_for: Callable[[Settings], TestClient]) -> Callable[[Settings], TestClient]:
    """In-process gateways on given settings (``GET /v1/tasks/{id}`` and appends): the shared
    ``client_for``, under the name these tests use."""
    return client_for


@dataclass
class Rig:
    """What a summarizer reliability test drives, as one fixture: the run's worker environment,
    the routed fake LLM, worker processes, the database, a Celery client that publishes, and
    in-process gateways that read task states."""

    worker_env: dict[str, str]
    llm: RoutedFakeOpenAI
    start_worker: Callable[..., Any]
    settings_for: Callable[[dict[str, str]], Settings]
    celery: Any
    db: Any
    api: Callable[[Settings], TestClient]

    def env(self, **overrides: str) -> dict[str, str]:
        """``llm_env`` of the run's environment and the routed fake LLM."""
        return llm_env(self.worker_env, self.llm, **overrides)

    def client(self, env: dict[str, str]) -> TestClient:
        """An in-process gateway on ``env``."""
        return self.api(self.settings_for(env))

    def publish(self, session_id: str, task_id: str) -> None:
        publish_summary(self.celery, session_id, task_id)


@pytest.fixture
def rig(
    worker_env: dict[str, str],
    routed_llm: RoutedFakeOpenAI,
    start_worker: Callable[..., Proc],
    settings_for: Callable[[dict[str, str]], Settings],
    celery_client: Any,
    db: Any,
    api: Callable[[Settings], TestClient],
) -> Rig:
    return Rig(worker_env, routed_llm, start_worker, settings_for, celery_client, db, api)


def task_state(client: TestClient, task_id: str) -> dict[str, Any]:
    from tests.integration.helpers import auth

    response = client.get(f"/v1/tasks/{task_id}", headers=auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_states(
    client: TestClient, task_ids: list[str], timeout: float, *, seen: dict[str, set[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Poll every task until terminal; record every state observed on the way in ``seen``."""
    from tests.integration.helpers import TERMINAL

    final: dict[str, dict[str, Any]] = {}

    def poll() -> dict[str, dict[str, Any]]:
        for task_id in task_ids:
            if task_id in final:
                continue
            body = task_state(client, task_id)
            if seen is not None:
                seen.setdefault(task_id, set()).add(body["state"])
            if body["state"] in TERMINAL:
                final[task_id] = body
        return final

    def missing() -> str:
        return f"tasks not finished: {[t for t in task_ids if t not in final]}"

    return wait_until(
        poll, timeout, 0.1, "every task to finish", until=lambda f: len(f) == len(task_ids), detail=missing
    )
