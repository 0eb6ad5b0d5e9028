"""The image's start-up script, its Dockerfile and the workflows, checked without a Docker engine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

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
    for workflow in (ROOT / ".github" / "workflows").glob("*.y*ml"):
        for line in workflow.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)", line)
            if match and not match.group(1).startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1)), f"{workflow.name}: {line}"
                assert "#" in line, f"{workflow.name}: say the tag beside the SHA: {line}"


# --- What the CI workflow must do, read from its YAML (actionlint checks syntax, not intent). ---

Job = dict[str, Any]


def _jobs() -> list[tuple[str, Job]]:
    jobs = []
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        for name, job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).items():
            jobs.append((f"{workflow.name}:{name}", job))
    assert jobs, "no workflow jobs found"
    return jobs


def _steps(job: Job) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@", 1)[0]


def _run(step: dict[str, Any]) -> str:
    """A step's shell script with backslash continuations joined."""
    return re.sub(r"\\\n\s*", " ", str(step.get("run", "")))


def test_every_workflow_job_has_a_timeout() -> None:
    for name, job in _jobs():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 120, f"{name}: timeout-minutes is {timeout!r}"


def test_test_job_has_mongo_rabbitmq_and_redis_services() -> None:
    test_jobs = [(n, j) for n, j in _jobs() if any(re.search(r"\bmake test(?![-\w])", _run(s)) for s in _steps(j))]
    assert len(test_jobs) == 1, [n for n, _ in test_jobs]
    name, job = test_jobs[0]
    images = [str(service["image"]) for service in (job.get("services") or {}).values()]
    assert "mongo:7" in images or any(i.startswith("mongo:7.") for i in images), f"{name}: {images}"
    assert any(i.startswith("rabbitmq:") and "management" in i for i in images), f"{name}: {images}"
    assert any(i.startswith("redis:") for i in images), f"{name}: {images}"
    # The suite uses the service containers (not its local SecantusDB/RabbitMQ) only when told to.
    env = job.get("env") or {}
    for var in ("RAGTASKS_TEST_MONGODB_URL", "RAGTASKS_TEST_BROKER_URL", "RAGTASKS_TEST_REDIS_URL"):
        assert env.get(var), f"{name}: {var} unset"
    assert ":27017/" in env["RAGTASKS_TEST_MONGODB_URL"]


def test_chart_is_installed_on_kind_with_chart_testing() -> None:
    installs = []
    for name, job in _jobs():
        steps = _steps(job)
        kind = [i for i, s in enumerate(steps) if _action(s) == "helm/kind-action"]
        ct_setup = [i for i, s in enumerate(steps) if _action(s) == "helm/chart-testing-action"]
        ct_install = [i for i, s in enumerate(steps) if re.search(r"\bct install\b", _run(s))]
        if ct_install:
            assert kind and ct_setup, f"{name}: ct install without kind-action/chart-testing-action"
            assert max(kind[0], ct_setup[0]) < ct_install[0], f"{name}: ct install runs before the cluster/tool"
            installs.append(name)
    assert installs, "no job runs `ct install` on a kind cluster"


def test_downloads_in_workflows_are_pinned() -> None:
    checked = 0
    for name, job in _jobs():
        for step in _steps(job):
            run = _run(step)
            text = run + " " + " ".join(str(v) for v in (step.get("env") or {}).values())
            # A binary fetched with curl/wget is verified against a sha256 written in the workflow.
            if re.search(r"\b(curl|wget)\b[^\n]*releases/download/", run):
                assert re.search(r"sha256sum (--check|-c)", run), f"{name}: {step.get('name')}: no sha256 check"
                assert re.search(r"\b[0-9a-f]{64}\b", text), f"{name}: {step.get('name')}: no pinned digest"
                checked += 1
            # A chart installed from a repository (or OCI) names its version.
            repos = set(re.findall(r"helm repo add (\S+)", run))
            for line in run.splitlines():
                match = re.search(r"helm (?:upgrade --install|install) \S+ (\S+)", line)
                if match and (match.group(1).split("/")[0] in repos or match.group(1).startswith("oci://")):
                    assert re.search(r"--version[ =]v?\d+\.\d+\.\d+", line), f"{name}: unpinned chart: {line}"
                    checked += 1
    assert checked >= 2  # kubeconform and prometheus-operator-crds at least
