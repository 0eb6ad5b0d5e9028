"""Run the real helm binary against charts/ragtasks and parse what it renders.

The helm binary is the one `make tools` installs into .tools/bin (or any helm on PATH). A missing
helm is a failure, not a skip: these tests are the chart's only check before a cluster sees it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ragtasks"
SCENARIOS = sorted((CHART / "ci").glob("*.yaml"))
WORKERS = ("summarizer", "evaluator", "alerter")
RELEASE = "rt"
FULLNAME = f"{RELEASE}-ragtasks"

Manifest = dict[str, Any]


@functools.cache
def helm_binary() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    raise AssertionError("helm not found in .tools/bin or on PATH: run `make tools` (scripts/install-tools.sh)")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def set_args(sets: tuple[str, ...]) -> list[str]:
    return [arg for s in sets for arg in ("--set", s)]


@functools.cache
def render_text(values_file: str | None = None, sets: tuple[str, ...] = ()) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", "ragtasks"]
    if values_file:
        args += ["-f", values_file]
    return helm(*args, *set_args(sets)).stdout


def render(values_file: str | Path | None = None, *sets: str) -> list[Manifest]:
    """Every object `helm template` renders, as dicts (empty documents dropped)."""
    text = render_text(str(values_file) if values_file else None, tuple(sets))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_templates(manifests: list[Manifest]) -> Iterator[tuple[str, dict[str, Any]]]:
    for m in manifests:
        if m["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield m["metadata"]["name"], m["spec"]["template"]


def worker_deployment(manifests: list[Manifest], worker: str) -> Manifest:
    return by_kind(manifests, "Deployment")[f"{FULLNAME}-worker-{worker}"]


def flag(args: list[str], name: str) -> str:
    """The value after `name` on a command line."""
    assert name in args, f"{name} missing from {args}"
    return args[args.index(name) + 1]
