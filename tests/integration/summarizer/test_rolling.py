"""The rolling summary through a real worker and the fake LLM: previous summary + new messages.

Two summaries of one session, both asked through the gateway: the second chat request carries
the first summary (``Previous summary:\\n<text>``) and only the messages after the watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragtasks_core.settings import Settings
from tests.integration.helpers import auth
from tests.support.fake_openai import FakeOpenAI, Reply

from .conftest import llm_env, wait_states

FIRST = "The user wants to return earbuds bought last week; the left one crackles."
SECOND = "Return accepted: the user ships the earbuds back and gets a refund in 3-5 days."
ROUND_ONE = ["I want to return my earbuds.", "What is wrong with them?", "The left one crackles.", "Sorry to hear."]
ROUND_TWO = ["Can I get a refund?", "Yes, ship them back.", "How long does the refund take?"]


def summarize(client: Any, session_id: str) -> dict[str, Any]:
    r = client.post(f"/v1/sessions/{session_id}/summarize", headers=auth())
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    body = wait_states(client, [task_id], timeout=60)[task_id]
    assert body["state"] == "SUCCESS", body
    return dict(body["result"])


def append(client: Any, session_id: str, contents: list[str], first_seq: int) -> None:
    messages = [{"role": "user" if (first_seq + i) % 2 else "assistant", "content": c} for i, c in enumerate(contents)]
    r = client.post(f"/v1/sessions/{session_id}/messages", json={"messages": messages}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["summary_task_id"] is None  # only the explicit /summarize asks for summaries


def test_second_summary_folds_the_first(
    worker_env: dict[str, str],
    fake_llm: FakeOpenAI,
    start_worker: Any,
    settings_for: Callable[[dict[str, str]], Settings],
    db: Any,
    api: Any,
) -> None:
    env = llm_env(worker_env, fake_llm, SUMMARY_TRIGGER_TOKENS="100000")  # keeps the newest 1 verbatim
    fake_llm.push(Reply(text=FIRST), Reply(text=SECOND))
    start_worker("summarizer", env, concurrency=1)
    client = api(settings_for(env))

    append(client, "roll", ROUND_ONE, first_seq=1)
    assert summarize(client, "roll") == {
        "status": "committed",
        "session_id": "roll",
        "upto_seq": 3,
        "model": "fake-model",
    }
    context = client.get("/v1/sessions/roll/context", headers=auth()).json()
    assert (context["summary"], context["summary_upto_seq"]) == (FIRST, 3)
    assert [m["content"] for m in context["messages"]] == ROUND_ONE[3:]

    append(client, "roll", ROUND_TWO, first_seq=5)
    assert summarize(client, "roll")["upto_seq"] == 6

    first, second = (r.body["messages"][-1]["content"] for r in fake_llm.chat_requests())
    assert "Previous summary:\n(none)" in first
    assert all(c in first for c in ROUND_ONE[:3]) and ROUND_ONE[3] not in first
    # The rolling step: the previous summary, then only the messages after its watermark.
    assert f"Previous summary:\n{FIRST}\n" in second
    assert f"[4] assistant: {ROUND_ONE[3]}" in second
    assert f"[5] user: {ROUND_TWO[0]}" in second and f"[6] assistant: {ROUND_TWO[1]}" in second
    assert not any(c in second for c in ROUND_ONE[:3])  # already folded into FIRST
    assert ROUND_TWO[2] not in second  # the newest message stays verbatim

    context = client.get("/v1/sessions/roll/context", headers=auth()).json()
    assert (context["summary"], context["summary_upto_seq"]) == (SECOND, 6)
    assert [m["content"] for m in context["messages"]] == ROUND_TWO[2:]
    ranges = sorted((d["from_seq"], d["upto_seq"], d["committed"]) for d in db.summaries.find({"session_id": "roll"}))
    assert ranges == [(0, 3, True), (3, 6, True)]
    assert db.messages.count_documents({"session_id": "roll"}) == 7  # history is never deleted
