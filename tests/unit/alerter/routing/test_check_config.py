"""``ragtasks alerts check-config FILE``, run as the real command: on the doc's example, the
issue's example, and files with mistakes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .examples import ISSUE_EXAMPLE

ROOT = Path(__file__).resolve().parents[4]
MARKER = "<!-- routes-example -->"


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragtasks_cli", "alerts", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def doc_example() -> str:
    text = (ROOT / "docs" / "alerter.md").read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, "docs/alerter.md must mark its routes example once"
    found = re.search(r"```yaml\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_documented_example_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(doc_example(), encoding="utf-8")
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: OK" in result.stdout
    assert "receivers (4):" in result.stdout
    assert '    severity="critical" -> oncall continue' in result.stdout
    assert "time intervals: nights, weekends" in result.stdout
    assert "warning" not in result.stdout


def test_the_issue_example_is_accepted_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert "(every alert) -> team group_by [source, kb] group_wait 0s" in result.stdout
    assert "warning: receiver 'oncall': WeCom markdown messages cannot mention by mobile" in result.stdout


def test_mistakes_exit_1_with_every_problem_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    bad = ISSUE_EXAMPLE.replace("group_wait: 0s", "group_wait: soon").replace(
        """['severity="critical"']""", """['severity="critical']"""
    )
    path.write_text(bad, encoding="utf-8")
    result = check_config(path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{path}: invalid alert routes file:" in result.stderr
    assert "route.group_wait: not a valid duration string: 'soon'" in result.stderr
    assert "route.routes[0].matchers: matcher value contains unescaped double quote" in result.stderr
    missing = check_config(tmp_path / "nope.yaml")
    assert missing.returncode == 1 and "cannot read the file" in missing.stderr
