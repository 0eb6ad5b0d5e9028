"""The chart renders the summarizer's instruction from `summarizer.prompt`: a ConfigMap mounted into
the summarizer's pods only, RAGTASKS_SUMMARY_PROMPT_FILE pointing at it, a checksum that rolls them,
nothing without it, and a render that fails for a text the worker would refuse or for a second
instruction (`config.summaryPromptFile`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ragtasks_core.settings import Settings
from ragtasks_summarizer import wiring
from ragtasks_summarizer.policy import MAX_INSTRUCTION_CHARS
from tests.deploy.chart import CHART, FULLNAME, by_kind, helm, pod_templates, render, worker_deployment

PROMPT_FILE = "/etc/ragtasks/summarizer/prompt.txt"
VOLUME = "summarizer-prompt"
CHECKSUM = f"checksum/{VOLUME}"
# As a user writes it in values.yaml with `prompt: |`: several lines, a trailing newline, an indented
# line and characters YAML would otherwise read as syntax.
PROMPT = "请用中文总结以下对话，保留人名、订单号和数字。\n  # 不要编造：金额写成 ¥1,280.00 这样。\n最后一行: 完。\n"


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}


def _values(tmp_path: Path, prompt: str, **more: Any) -> Path:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"summarizer": {"prompt": prompt}, **more}, allow_unicode=True), encoding="utf-8")
    return values


def _annotations(manifests: list[dict[str, Any]], worker: str) -> dict[str, str]:
    annotations: dict[str, str] = worker_deployment(manifests, worker)["spec"]["template"]["metadata"]["annotations"]
    return annotations


def _instruction_in_the_pod(manifests: list[dict[str, Any]], mount: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The instruction the summarizer builds from what the chart renders: the ConfigMap's keys as the
    files of the mounted directory (`mount` stands in for its mountPath), the pod's variable read by
    the real settings and `wiring.policy_of` (load_instruction)."""
    pod = worker_deployment(manifests, "summarizer")["spec"]["template"]
    [volume_mount] = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == VOLUME]
    for key, text in by_kind(manifests, "ConfigMap")[f"{FULLNAME}-{VOLUME}"]["data"].items():
        (mount / key).write_text(text, encoding="utf-8")
    in_mount = Path(_env(pod)["RAGTASKS_SUMMARY_PROMPT_FILE"]).relative_to(volume_mount["mountPath"])
    monkeypatch.setenv("RAGTASKS_SUMMARY_PROMPT_FILE", str(mount / in_mount))
    return wiring.policy_of(Settings()).instruction


def test_the_prompt_is_rendered_mounted_and_read_back_by_the_summarizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(_values(tmp_path, PROMPT))
    config_map = by_kind(manifests, "ConfigMap")[f"{FULLNAME}-{VOLUME}"]
    assert config_map["data"] == {"prompt.txt": PROMPT}
    assert config_map["metadata"]["labels"]["app.kubernetes.io/component"] == "worker-summarizer"
    pod = worker_deployment(manifests, "summarizer")["spec"]["template"]
    assert _env(pod)["RAGTASKS_SUMMARY_PROMPT_FILE"] == PROMPT_FILE
    [mount] = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == VOLUME]
    assert mount == {"name": VOLUME, "mountPath": str(Path(PROMPT_FILE).parent), "readOnly": True}
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == VOLUME]
    assert volume["configMap"] == {"name": f"{FULLNAME}-{VOLUME}"}
    assert CHECKSUM in pod["metadata"]["annotations"]
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    # load_instruction trims the file, so the trailing newline of `prompt: |` is not part of it.
    assert _instruction_in_the_pod(manifests, mounted, monkeypatch) == PROMPT.strip()
    others = [name for name, _ in pod_templates(manifests) if not name.endswith("worker-summarizer")]
    assert len(others) >= 4, others  # gateway, evaluator, alerter, beat at least
    for name, other in pod_templates(manifests):
        if name in others:
            assert "RAGTASKS_SUMMARY_PROMPT_FILE" not in _env(other), name
            assert all(v["name"] != VOLUME for v in other["spec"]["volumes"]), name
            assert CHECKSUM not in other["metadata"]["annotations"], name


def test_a_changed_prompt_rolls_the_summarizer_and_nothing_else() -> None:
    first = render(None, "summarizer.prompt=请总结对话。")
    second = render(None, "summarizer.prompt=请总结对话，保留订单号。")
    assert _annotations(first, "summarizer")[CHECKSUM] != _annotations(second, "summarizer")[CHECKSUM]
    for worker in ("evaluator", "alerter"):
        assert _annotations(first, worker) == _annotations(second, worker), worker


def test_no_prompt_no_configmap_no_volume_and_no_variable() -> None:
    for manifests in (render(None), render(None, "summarizer.prompt=请总结。", "workers.summarizer.enabled=false")):
        assert f"{FULLNAME}-{VOLUME}" not in by_kind(manifests, "ConfigMap")
        for name, pod in pod_templates(manifests):
            assert "RAGTASKS_SUMMARY_PROMPT_FILE" not in _env(pod), name
            assert all(v["name"] != VOLUME for v in pod["spec"]["volumes"]), name
            assert CHECKSUM not in pod["metadata"]["annotations"], name
    # A file named in `config` alone is still the plain setting it was.
    data = by_kind(render(None, "config.summaryPromptFile=/app/prompt.txt"), "ConfigMap")[FULLNAME]["data"]
    assert data["RAGTASKS_SUMMARY_PROMPT_FILE"] == "/app/prompt.txt"


def test_the_longest_prompt_the_summarizer_takes_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    longest = "字" * MAX_INSTRUCTION_CHARS
    manifests = render(_values(tmp_path, f"\n {longest}\n"))
    assert _instruction_in_the_pod(manifests, tmp_path, monkeypatch) == longest


@pytest.mark.parametrize(
    ("prompt", "more", "complaint"),
    [
        (PROMPT, {"config": {"summaryPromptFile": "/app/prompt.txt"}}, "both set the summarizer's instruction"),
        (PROMPT, {"config": {"extra": {"RAGTASKS_SUMMARY_PROMPT_FILE": "/app/p.txt"}}}, "both set"),
        (" \n\t\u3000\n", {}, "summarizer.prompt holds only whitespace"),
        ("字" * (MAX_INSTRUCTION_CHARS + 1), {}, f"{MAX_INSTRUCTION_CHARS + 1} characters; the summarizer takes"),
    ],
    ids=["with-config-file", "with-config-extra", "blank", "too-long"],
)
def test_the_render_refuses(tmp_path: Path, prompt: str, more: dict[str, Any], complaint: str) -> None:
    proc = helm("template", "rt", str(CHART), "-f", str(_values(tmp_path, prompt, **more)), check=False)
    assert proc.returncode != 0, f"{more} with that prompt was accepted"
    assert complaint in proc.stderr, proc.stderr


def test_the_schema_keeps_the_block_to_its_one_key() -> None:
    proc = helm("template", "rt", str(CHART), "--set", "summarizer.promptFile=/x", check=False)
    assert proc.returncode != 0
    assert "Additional property promptFile is not allowed" in proc.stderr, proc.stderr
