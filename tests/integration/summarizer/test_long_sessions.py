"""Long Chinese sessions through the gateway and a real worker, the fake OpenAI server enforcing
a window: every prompt fits, and the session is summarized to the end.

- 12 messages of 20,000 characters (240k characters: the issue's session that was never
  summarized), with the configured window and with a server whose real window is a quarter of it;
- 100 messages of 32,000 characters. The gateway takes at most 1,047,120 characters of content
  per append since requests are limited to 4 MiB (README, "Limits on what a caller can send"),
  so the same volume arrives in four appends (32 + 32 + 32 + 4 messages).
"""

from __future__ import annotations

import urllib.request
from typing import Any

from tests.integration.helpers import auth
from tests.support.procs import metric_value, wait_until

from .conftest import Rig
from .test_race import assert_consistent

WINDOW = 16_000
REPLY = 512
SUMMARY = "摘要：客户反馈耳机左侧有杂音，要求退货；客服已确认订单号并说明七天无理由退货流程，退款三到五个工作日到账。"
SENTENCES = [
    "客户说上周买的蓝牙耳机左边有杂音，想办理退货。",
    "客服请客户提供订单号和购买日期，并确认包装是否完好。",
    "根据七天无理由退货政策，商品未损坏即可免费寄回。",
    "退款会在仓库签收后三到五个工作日内原路退回。",
    "客户还询问能否换成降噪款，差价可以补交。",
]


def chinese(chars: int, seed: int) -> str:
    """``chars`` characters of varied Chinese chat text (no spaces, as real Chinese text)."""
    text = ""
    i = seed
    while len(text) < chars:
        text += f"第{i}轮：" + SENTENCES[i % len(SENTENCES)]
        i += 1
    return text[:chars]


def append(client: Any, session_id: str, contents: list[str], first_seq: int) -> None:
    messages = [{"role": "user" if (first_seq + i) % 2 else "assistant", "content": c} for i, c in enumerate(contents)]
    r = client.post(f"/v1/sessions/{session_id}/messages", json={"messages": messages}, headers=auth())
    assert r.status_code == 200, r.text


def summarized_to_the_end(rig: Rig, session_id: str, timeout: float) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        session = rig.db.sessions.find_one({"_id": session_id})
        finished = session["summary_upto_seq"] == session["last_seq"] - 1 and session["summary_pending"] is None
        return session if finished else None

    def where() -> str:
        session = rig.db.sessions.find_one({"_id": session_id})
        return f"watermark {session['summary_upto_seq']} of {session['last_seq']}, error {session.get('summary_error')}"

    session: dict[str, Any] = wait_until(done, timeout, 0.5, "the session summarized to the end", detail=where)
    return session


def within_window(rig: Rig, window: int) -> None:
    assert rig.llm.prompt_sizes, "no chat request reached the server"
    accepted = [size for size in rig.llm.prompt_sizes if size not in rig.llm.refused_sizes]
    assert max(accepted) + REPLY <= window, (max(accepted), window)


def test_a_240k_character_session_is_summarized_within_the_window(rig: Rig) -> None:
    rig.llm.window_tokens = WINDOW
    rig.llm.default_text = SUMMARY
    env = rig.env(LLM_CONTEXT_TOKENS=str(WINDOW))
    rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)
    append(client, "long-240k", [chinese(20_000, i) for i in range(12)], first_seq=1)

    session = summarized_to_the_end(rig, "long-240k", timeout=180)
    assert rig.llm.refused_sizes == []  # the configured window is the real one: never refused
    within_window(rig, WINDOW)
    assert len(rig.llm.chat_requests()) >= 11  # a 20k-character message is ~15k tokens: one per step
    assert session["summary"] == SUMMARY
    assert_consistent(rig.db, "long-240k")
    assert rig.db.messages.find_one({"session_id": "long-240k", "seq": 3})["content"] == chinese(20_000, 2)
    # The prompts carry each message shortened, head and tail, with what was left out.
    prompt = rig.llm.chat_requests()[0].body["messages"][-1]["content"]
    assert "此处省略" in prompt and chinese(20_000, 0)[:200] in prompt and chinese(20_000, 0)[-200:] in prompt


def test_a_server_with_a_quarter_of_the_window_still_gets_the_session_summarized(rig: Rig) -> None:
    rig.llm.window_tokens = WINDOW // 4  # configured 16,000; the model really takes 4,000
    rig.llm.default_text = SUMMARY
    env = rig.env(LLM_CONTEXT_TOKENS=str(WINDOW))
    worker = rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)
    append(client, "quarter", [chinese(20_000, i) for i in range(12)], first_seq=1)

    summarized_to_the_end(rig, "quarter", timeout=180)
    assert rig.llm.refused_sizes  # the first step learned the real window
    within_window(rig, WINDOW // 4)
    assert_consistent(rig.db, "quarter")
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=10) as response:
        text = response.read().decode()
    exceeded = metric_value(text, "ragtasks_llm_context_exceeded_total", {"model": "fake-model"})
    assert exceeded == len(rig.llm.refused_sizes)


def test_100_messages_of_32k_characters_are_summarized_within_the_window(rig: Rig) -> None:
    rig.llm.window_tokens = WINDOW
    rig.llm.default_text = SUMMARY
    env = rig.env(LLM_CONTEXT_TOKENS=str(WINDOW))
    rig.start_worker("summarizer", env, concurrency=1)
    client = rig.client(env)
    contents = [chinese(32_000, i) for i in range(100)]
    for start in range(0, 100, 32):  # 32 + 32 + 32 + 4: each append within the 4 MiB request limit
        append(client, "huge", contents[start : start + 32], first_seq=start + 1)

    summarized_to_the_end(rig, "huge", timeout=540)
    assert rig.llm.refused_sizes == []
    within_window(rig, WINDOW)
    assert_consistent(rig.db, "huge")
    context = client.get("/v1/sessions/huge/context", headers=auth()).json()
    assert [m["seq"] for m in context["messages"]] == [100]
