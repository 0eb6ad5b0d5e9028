"""``scripts/demo.py`` -- what ``make run`` shows a newcomer -- against a running stack.

The whole workload runs: the chat gets its summary, the Lee corpus gets a recall report, and the
burst of empty retrievals reaches the robot (here the fake WeCom server stands in for the sink).
"""

from __future__ import annotations

import functools
import subprocess
from typing import Any

from tests.support.fake_wecom import FakeWeCom
from tests.support.procs import BIN, ROOT, start_together


def test_the_demo_workload_runs_end_to_end(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, wecom: FakeWeCom
) -> None:
    env = {
        **worker_env,
        # What scripts/run-local.sh sets; no LLM URL: the offline summarizer and question writer.
        "RAGTASKS_SUMMARY_TRIGGER_TOKENS": "300",
        "RAGTASKS_SUMMARY_KEEP_RECENT_MESSAGES": "2",
        "RAGTASKS_ALERT_GROUP_WAIT_SECONDS": "0",
        "RAGTASKS_WECOM_WEBHOOK_URL": wecom.url(),
    }
    *_, gateway = start_together(
        *(functools.partial(start_worker, q, env, concurrency=2) for q in ("summarizer", "evaluator", "alerter")),
        lambda: start_gateway(env),
    )
    argv = [str(BIN / "python"), str(ROOT / "scripts" / "demo.py"), "--gateway", f"http://127.0.0.1:{gateway.port}"]
    argv += ["--api-key", "test-key-0123456789", "--sample-size", "20"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "-> threshold passed: summary task" in out  # the append itself triggered the summary
    assert ": SUCCESS" in out and "summary (by extractive-local" in out, out
    assert "recent messages kept verbatim" in out
    assert "686 chunks upserted" in out and "hit_rate@10" in out and "offline-keywords-v2" in out
    assert "KB 'zh-support'" in out and out.count("hit_rate@10") == 2, out  # the Chinese KB too
    assert "delivered:" in out
    [message] = [m for m in wecom.messages() if "empty_retrieval" in m.content]
    assert "demo-kb-" in message.content
