"""A summarizer whose RAGTASKS_SUMMARY_PROMPT_FILE it cannot use refuses to start, in one line.

Every summary reads the file: a missing or empty one would fail each of them instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import refused_start


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "cannot be read"), ("  \u3000\n", "is empty")],  # the full-width space is whitespace too
)
def test_a_summarizer_with_an_unusable_prompt_file_refuses_to_start(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path, content: str | None, reason: str
) -> None:
    prompt = tmp_path / "prompt.txt"
    log = refused_start(start_worker, "summarizer", worker_env, "RAGTASKS_SUMMARY_PROMPT_FILE", prompt, content)
    assert f"ragtasks worker: RAGTASKS_SUMMARY_PROMPT_FILE '{prompt}' {reason}" in log


def test_a_summarizer_with_a_chinese_prompt_file_starts(
    worker_env: dict[str, str], start_worker: Any, tmp_path: Path
) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("请用中文总结以下对话，保留人名、订单号和数字。\n", encoding="utf-8")
    worker = start_worker("summarizer", {**worker_env, "RAGTASKS_SUMMARY_PROMPT_FILE": str(prompt)}, concurrency=1)
    assert worker.alive()
