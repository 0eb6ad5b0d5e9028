"""Structural schemas for the custom resources the chart renders.

kubernetes-validate ships the schemas of Kubernetes' own kinds only. KEDA's ScaledObject and
TriggerAuthentication and prometheus-operator's ServiceMonitor, PodMonitor and PrometheusRule are
checked against these: the fields the chart sets, with their types, and nothing unknown at the
levels the chart writes.
"""

from __future__ import annotations

from typing import Any


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": extra}


_STR = {"type": "string", "minLength": 1}
_INT = {"type": "integer"}
_META = _obj(
    {"name": _STR, "namespace": _STR, "labels": {"type": "object"}, "annotations": {"type": "object"}}, ("name",)
)
_SELECTOR = {"type": "object"}


def _resource(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        {"apiVersion": {"const": api_version}, "kind": {"const": kind}, "metadata": _META, "spec": spec},
        ("apiVersion", "kind", "metadata", "spec"),
    )


_SCALED_OBJECT_SPEC = _obj(
    {
        "scaleTargetRef": _obj({"apiVersion": _STR, "kind": _STR, "name": _STR}, ("name",)),
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "pollingInterval": _INT,
        "cooldownPeriod": _INT,
        "advanced": {"type": "object"},
        "triggers": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "type": {"const": "rabbitmq"},
                    # KEDA trigger metadata is a map of strings, numbers are not accepted.
                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    "authenticationRef": _obj({"name": _STR}, ("name",)),
                },
                ("type", "metadata"),
            ),
        },
    },
    ("scaleTargetRef", "triggers"),
)

_TRIGGER_AUTH_SPEC = _obj(
    {
        "secretTargetRef": {
            "type": "array",
            "items": _obj({"parameter": _STR, "name": _STR, "key": _STR}, ("parameter", "name", "key")),
        }
    },
    ("secretTargetRef",),
)

_RELABELING = _obj(
    {
        "sourceLabels": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"}},
        "targetLabel": _STR,
        "replacement": {"type": "string"},
        "regex": {"type": "string"},
        "action": {"enum": ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"]},
    }
)
_ENDPOINT = _obj(
    {
        "port": _STR,
        "path": _STR,
        "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
        "relabelings": {"type": "array", "items": _RELABELING},
    },
    ("port",),
)
_NS_SELECTOR = _obj({"matchNames": {"type": "array", "items": _STR}, "any": {"type": "boolean"}})

_SERVICE_MONITOR_SPEC = _obj(
    {
        "selector": _SELECTOR,
        "namespaceSelector": _NS_SELECTOR,
        "endpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
    },
    ("selector", "endpoints"),
)
_POD_MONITOR_SPEC = _obj(
    {
        "selector": _SELECTOR,
        "namespaceSelector": _NS_SELECTOR,
        "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _ENDPOINT},
    },
    ("selector", "podMetricsEndpoints"),
)
_RULE = {
    "type": "object",
    "properties": {
        "record": _STR,
        "alert": _STR,
        "expr": _STR,
        "for": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["expr"],
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
    "additionalProperties": False,
}
_PROMETHEUS_RULE_SPEC = _obj(
    {
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "name": _STR,
                    "interval": {"type": "string"},
                    "rules": {"type": "array", "minItems": 1, "items": _RULE},
                },
                ("name", "rules"),
            ),
        }
    },
    ("groups",),
)

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): _resource("keda.sh/v1alpha1", "ScaledObject", _SCALED_OBJECT_SPEC),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): _resource(
        "keda.sh/v1alpha1", "TriggerAuthentication", _TRIGGER_AUTH_SPEC
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _resource(
        "monitoring.coreos.com/v1", "ServiceMonitor", _SERVICE_MONITOR_SPEC
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): _resource("monitoring.coreos.com/v1", "PodMonitor", _POD_MONITOR_SPEC),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _resource(
        "monitoring.coreos.com/v1", "PrometheusRule", _PROMETHEUS_RULE_SPEC
    ),
}
