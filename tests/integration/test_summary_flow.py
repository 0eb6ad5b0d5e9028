"""The first complete flow: append -> threshold -> summarizer worker -> context read back."""

from __future__ import annotations

from typing import Any

from ragtasks_core.tokens import count_message_tokens
from tests.integration.helpers import auth, gateway_client, wait_task
from tests.support.fake_openai import FakeOpenAI
from tests.support.procs import start_together

TURN = [
    {"role": "user", "content": "我想退货，上周买的耳机左边有杂音。The left earbud crackles at high volume."},
    {"role": "assistant", "content": "Sorry about that. Returns are accepted within 30 days with the receipt."},
]


def test_threshold_triggers_exactly_one_summary_offline(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any
) -> None:
    env = {**worker_env, "RAGTASKS_SUMMARY_TRIGGER_TOKENS": "150", "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "2"}
    _, gw = start_together(lambda: start_worker("summarizer", env, concurrency=2), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        task_ids = []
        last = None
        per_turn = sum(count_message_tokens(m["role"], m["content"]) for m in TURN)
        for turn in range(1, 5):
            r = client.post("/v1/sessions/chat-1/messages", json={"messages": TURN}, headers=auth())
            assert r.status_code == 200, r.text
            last = r.json()
            assert last["last_seq"] == 2 * turn
            if not task_ids:  # (after a trigger the summary may commit at any moment and lower it)
                # Counted as the model will count them: o200k_base plus the chat format's overhead.
                assert last["tokens_since_summary"] == per_turn * turn, (last, per_turn)
            if last["summary_task_id"]:
                task_ids.append(last["summary_task_id"])
        assert last is not None and last["last_seq"] == 8
        # Tokens are counted with o200k_base: 2 messages of mixed Chinese/English pass 150 by turn 3.
        assert len(task_ids) == 1, task_ids
        done = wait_task(client, task_ids[0])
        assert done["state"] == "SUCCESS", done
        assert done["result"]["status"] == "committed"
        ctx = client.get("/v1/sessions/chat-1/context", headers=auth()).json()
        assert ctx["summary_model"] == "extractive-local"
        assert ctx["summary"]
        # Everything but the 2 newest messages of the summarized range was folded in.
        upto = ctx["summary_upto_seq"]
        assert upto >= 4
        assert [m["seq"] for m in ctx["messages"]] == list(range(upto + 1, 9))
        assert ctx["summary_pending"] is False


def test_llm_summary_through_openai_client(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, fake_llm: FakeOpenAI
) -> None:
    fake_llm.default_text = "用户想退货：耳机左侧有杂音；30 天内凭收据可退。"
    env = {
        **worker_env,
        **fake_llm.env(),
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "1",
    }
    _, gw = start_together(lambda: start_worker("summarizer", env, concurrency=1), lambda: start_gateway(env))
    with gateway_client(gw.port) as client:
        client.post("/v1/sessions/chat-2/messages", json={"messages": TURN}, headers=auth())
        r = client.post("/v1/sessions/chat-2/summarize", headers=auth())
        assert r.status_code == 202
        done = wait_task(client, r.json()["task_id"])
        assert done["state"] == "SUCCESS", done
        ctx = client.get("/v1/sessions/chat-2/context", headers=auth()).json()
    assert ctx["summary"] == fake_llm.default_text
    assert ctx["summary_model"] == "fake-model"
    assert ctx["summary_upto_seq"] == 1
    [request] = fake_llm.chat_requests()
    assert request.body["model"] == "fake-model"
    assert "耳机" in request.body["messages"][-1]["content"]
