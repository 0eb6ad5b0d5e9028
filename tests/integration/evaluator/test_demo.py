"""``python -m ragtasks_evaluator.demo`` against a real gateway and evaluator worker."""

from __future__ import annotations

from typing import Any

import pytest

from ragtasks_evaluator import demo


def test_demo_loads_lee_and_prints_a_report(
    worker_env: dict[str, str], start_worker: Any, start_gateway: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    start_worker("evaluator", worker_env, concurrency=2)
    gw = start_gateway(worker_env)
    argv = ["--gateway", f"http://127.0.0.1:{gw.port}", "--api-key", "test-key-0123456789", "--sample-size", "20"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    assert "686 chunks upserted" in out and "hit_rate@10" in out and "offline-keywords-v1" in out
