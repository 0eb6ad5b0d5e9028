"""The newcomer's first workload, run by ``make run`` against the live local system.

1. A support chat grows until the gateway asks for a summary; the summarizer writes it and we
   read back exactly what a RAG app would put in its prompt.
2. A recall evaluation of a real corpus (the evaluator's demo), with its report.
3. A burst of empty retrievals that fires one alert to the local WeCom sink.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import httpx

from ragtasks_alerter import demo as alerter_demo
from ragtasks_evaluator import demo as evaluator_demo

CHAT = [
    ("user", "你好，我上周在你们店买了一副降噪耳机，订单号 A-20261120-7781。"),
    ("assistant", "您好！很高兴为您服务。请问耳机出现了什么问题？"),
    ("user", "The left earbud crackles when the volume is above 70%, and the battery only lasts two hours."),
    ("assistant", "Sorry about that. That sounds like a hardware fault. Have you tried resetting the earbuds?"),
    ("user", "试过了，按住两个耳机 10 秒重置，还是一样。我想换货，不想退款。"),
    ("assistant", "明白。我们可以为您安排换货：30 天内凭订单号即可，无需收据。"),
    ("user", "Great. Can you ship the replacement to my office instead? 上海市浦东新区世纪大道 100 号 12 楼。"),
    ("assistant", "Of course. I have noted the office address in Pudong for the replacement shipment."),
    ("user", "How long will it take? I have a flight to Shenzhen next Friday and need them before that."),
    ("assistant", "Standard exchange shipping takes 3-5 business days; I can upgrade you to express (1-2 days)."),
    ("user", "请升级加急，谢谢。另外旧耳机需要我寄回吗？"),
    ("assistant", "需要的，我们会随新耳机附上预付费退货标签，请在 14 天内寄回旧耳机。"),
]


def chat_demo(client: httpx.Client) -> None:
    session = f"demo-{int(time.time())}"
    print(f"\n== 1. Rolling summary: session {session}")
    task_id = None
    for role, content in CHAT:
        r = client.post(f"/v1/sessions/{session}/messages", json={"messages": [{"role": role, "content": content}]})
        r.raise_for_status()
        body = r.json()
        print(f"  appended seq {body['last_seq']:>2} ({body['tokens_since_summary']} tokens since summary)")
        if body["summary_task_id"] and task_id is None:
            task_id = body["summary_task_id"]
            print(f"  -> threshold passed: summary task {task_id} published")
    if task_id is None:
        task_id = client.post(f"/v1/sessions/{session}/summarize").json()["task_id"]
    state = wait_task(client, task_id)
    print(f"  task {task_id}: {state['state']} {json.dumps(state.get('result'), ensure_ascii=False)}")
    ctx = client.get(f"/v1/sessions/{session}/context").json()
    print(f"  summary (by {ctx['summary_model']}, up to seq {ctx['summary_upto_seq']}):")
    for line in (ctx["summary"] or "").splitlines():
        print(f"    | {line}")
    print(f"  recent messages kept verbatim: {[m['seq'] for m in ctx['messages']]}")


def wait_task(client: httpx.Client, task_id: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/v1/tasks/{task_id}").json()
        if state["state"] in {"SUCCESS", "FAILURE"}:
            return state
        time.sleep(0.5)
    raise TimeoutError(f"task {task_id} did not finish in {timeout}s")


def step(title: str, main: Callable[[list[str]], int], argv: list[str]) -> None:
    print(f"\n== {title}", flush=True)
    if main(argv) != 0:
        raise SystemExit(f"demo step failed: {title}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default="dev-key")
    parser.add_argument("--sample-size", type=int, default=50, help="chunks sampled by the recall evaluation")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"}
    with httpx.Client(base_url=args.gateway, headers=headers, timeout=30) as client:
        chat_demo(client)
    common = ["--gateway", args.gateway, "--api-key", args.api_key]
    step("2. Recall evaluation", evaluator_demo.main, [*common, "--sample-size", str(args.sample_size)])
    # A KB of its own per run: a KB that fired minutes ago is cooling down and would stay quiet.
    kb = f"demo-kb-{int(time.time())}"
    step("3. An alert to the local WeCom sink", alerter_demo.main, [*common, "--kb", kb])
    return 0


if __name__ == "__main__":
    sys.exit(main())
