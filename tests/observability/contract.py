"""What rules and dashboards may reference: the metric contract plus the recording rules.

Catches a typo in a metric name, which PromQL itself accepts silently (an unknown name is just an
empty result).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Modules that declare ragtasks metrics (prometheus_client objects or custom collectors).
METRIC_MODULES = [ROOT / "services" / "ragtasks_core" / name for name in ("metrics.py", "queue_metrics.py")]
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules.yaml"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"\bragtasks[_:][A-Za-z0-9_:]*")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def load_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def known_names() -> set[str]:
    """Every series name a rule or panel may select."""
    declared = {n for path in METRIC_MODULES for n in re.findall(r'"(ragtasks_[a-z0-9_]+)"', path.read_text())}
    names = set(declared)
    for name in declared:
        names.update(name + suffix for suffix in (*HISTOGRAM_SUFFIXES, "_info"))
    names.update(rule["record"] for rule in load_rules() if "record" in rule)
    return names


def names_in(expr: str) -> set[str]:
    """ragtasks metric / recording-rule names an expr selects (string literals ignored)."""
    return set(NAME.findall(STRING.sub('""', expr)))
