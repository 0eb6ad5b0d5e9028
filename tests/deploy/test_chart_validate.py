"""Every rendered object is valid: Kubernetes kinds against the API schemas of a current release
(kubernetes-validate, strict: unknown fields are errors), custom resources against crd_schemas."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.chart import SCENARIOS, render
from tests.deploy.crd_schemas import SCHEMAS

KUBERNETES_VERSION = "1.34.0"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_rendered_objects_validate(scenario: Path) -> None:
    manifests = render(scenario)
    assert manifests
    for m in manifests:
        key = (m["apiVersion"], m["kind"])
        where = f"{m['kind']}/{m['metadata']['name']} in {scenario.name}"
        if key in SCHEMAS:
            # CRDs: not in kubernetes-validate's schemas, checked structurally instead.
            errors = sorted(jsonschema.Draft7Validator(SCHEMAS[key]).iter_errors(m), key=str)
            assert not errors, f"{where}: {[e.message for e in errors]}"
            continue
        try:
            kubernetes_validate.validate(m, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {exc.message} at {list(exc.path)}") from exc


def test_kubernetes_version_is_shipped() -> None:
    assert KUBERNETES_VERSION.rsplit(".", 1)[0] in {
        v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()
    }
