"""The image's start-up script, its Dockerfile and the workflows, checked without a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.deploy.chart import ROOT

ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"
VENV_BIN = ROOT / ".venv" / "bin"


def _tool(name: str) -> str:
    for candidate in (VENV_BIN / name, shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AssertionError(f"{name} not installed: run `make tools` (scripts/install-tools.sh)")


def test_entrypoint_wipes_the_multiprocess_dir_and_execs_ragtasks(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ragtasks"
    fake.write_text('#!/bin/sh\necho "pid=$$ args=$*"; ls -A "$PROMETHEUS_MULTIPROC_DIR"\n')
    fake.chmod(0o755)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_text("stale")
    (metrics / "sub").mkdir()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    out = subprocess.run(
        ["sh", str(ENTRYPOINT), "worker", "summarizer", "--concurrency", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    assert out.splitlines() == [out.splitlines()[0]]  # the directory was listed empty
    assert "args=worker summarizer --concurrency 2" in out
    assert metrics.is_dir()


def test_entrypoint_creates_the_default_dir(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ragtasks").write_text(
        '#!/bin/sh\necho "$PROMETHEUS_MULTIPROC_DIR"; test -d "$PROMETHEUS_MULTIPROC_DIR"\n'
    )
    (bin_dir / "ragtasks").chmod(0o755)
    script = ENTRYPOINT.read_text().replace("/tmp/ragtasks-metrics", str(tmp_path / "m"))
    out = subprocess.run(
        ["sh", "-c", script, "entrypoint", "beat"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    assert out.strip() == str(tmp_path / "m")


def test_hadolint_dockerfile() -> None:
    proc = subprocess.run([_tool("hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_runs_as_non_root_with_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    assert "USER 10001" in runtime
    assert "gcc" not in runtime and "build-essential" not in runtime
    assert 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' in runtime
    assert "HEALTHCHECK" in runtime


def test_actionlint_workflows() -> None:
    proc = subprocess.run([_tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_actions_are_pinned_by_sha() -> None:
    import re

    for workflow in (ROOT / ".github" / "workflows").glob("*.y*ml"):
        for line in workflow.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)", line)
            if match and not match.group(1).startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1)), f"{workflow.name}: {line}"
                assert "#" in line, f"{workflow.name}: say the tag beside the SHA: {line}"
