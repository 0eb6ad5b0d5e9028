"""Every value is documented: a `# --` comment in values.yaml and a row in the chart README."""

from __future__ import annotations

import re

import yaml

from tests.deploy.chart import CHART


def documented_keys() -> tuple[list[str], list[str]]:
    """(documented key paths, undocumented leaf paths) of values.yaml, read line by line."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented: list[str] = []
    undocumented: list[str] = []
    stack: list[tuple[int, str]] = []
    pending = False
    skip_below: int | None = None
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = True
            continue
        match = re.match(r"^(\s*)([A-Za-z0-9_]+):", line)
        if not match or stripped.startswith("#"):
            continue
        indent = len(match.group(1))
        if skip_below is not None and indent > skip_below:
            continue
        skip_below = None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [key for _, key in stack] + [match.group(2)]
        value = values
        for key in path:
            value = value[key]
        if pending:
            documented.append(".".join(path))
            skip_below = indent
        elif isinstance(value, dict) and value:
            stack.append((indent, match.group(2)))
        else:
            undocumented.append(".".join(path))
        pending = False
    return documented, undocumented


def test_every_value_has_a_comment() -> None:
    documented, undocumented = documented_keys()
    assert len(documented) > 100
    assert undocumented == []


def test_every_value_is_in_the_readme() -> None:
    readme = (CHART / "README.md").read_text()
    missing = [key for key in documented_keys()[0] if f"| `{key}` |" not in readme]
    assert missing == []
