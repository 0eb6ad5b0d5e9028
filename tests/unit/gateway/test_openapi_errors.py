"""The OpenAPI document says what the gateway answers (``ragtasks_gateway.openapi_errors``).

The statuses each route raises are read from the route modules' source, so a new ``raise
HTTPException(status.HTTP_404_NOT_FOUND, ...)`` that the table misses fails here, not in a client.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from typing import Any

import pytest
from fastapi.routing import APIRoute

from ragtasks_core.settings import Settings
from ragtasks_gateway import openapi_errors
from ragtasks_gateway.app import create_app
from ragtasks_gateway.routes import ROUTERS

ERROR_DETAIL = {"$ref": "#/components/schemas/ErrorDetail"}


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(Settings(api_keys="test-key-0123456789", docs_enabled=True))


@pytest.fixture(scope="module")
def doc(app: Any) -> dict[str, Any]:
    return dict(app.openapi())


def operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{m.upper()} {path}": op for path, ops in doc["paths"].items() for m, op in ops.items()}


def json_schema(response: dict[str, Any]) -> dict[str, Any]:
    return dict(response["content"]["application/json"]["schema"])


def test_the_table_names_every_operation_and_nothing_else(doc: dict[str, Any]) -> None:
    assert set(openapi_errors.RAISES) == set(operations(doc))
    assert set(openapi_errors.MEDIA) <= set(operations(doc))


def test_every_v1_operation_documents_the_guards_answers(doc: dict[str, Any]) -> None:
    v1 = {key: op for key, op in operations(doc).items() if " /v1/" in key}
    assert len(v1) > 20
    for key, op in v1.items():
        for status in ("401", "403"):
            assert json_schema(op["responses"][status]) == ERROR_DETAIL, (key, status)
        if "requestBody" in op:
            assert {"408", "413"} <= set(op["responses"]), key
    for key in ("GET /healthz", "GET /metrics"):
        assert "401" not in operations(doc)[key]["responses"]  # probes and Prometheus need no key
    assert "ErrorDetail" in doc["components"]["schemas"]


def test_non_json_answers_have_their_media_types(doc: dict[str, Any]) -> None:
    ops = operations(doc)

    def media(key: str) -> set[str]:
        return set(ops[key]["responses"]["200"]["content"])

    assert media("GET /metrics") == {"text/plain"}
    assert media("GET /v1/evaluations/{evaluation_id}/rows.csv") == {"text/csv"}
    assert media("GET /v1/evaluations/{evaluation_id}/rows") == {"application/json", "text/csv"}
    assert media("GET /v1/alerts") == {"application/json"}


def test_app_level_422s_admit_fastapis_shape_and_their_own(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    field_errors = {"$ref": "#/components/schemas/HTTPValidationError"}
    assert json_schema(ops["POST /v1/silences"]["responses"]["422"]) == {"anyOf": [field_errors, ERROR_DETAIL]}
    skipped = {"$ref": "#/components/schemas/SkippedAlerts"}
    assert json_schema(ops["POST /v1/alerts/alertmanager"]["responses"]["422"]) == {"anyOf": [field_errors, skipped]}
    assert json_schema(ops["GET /v1/alerts"]["responses"]["422"]) == field_errors
    ready = json_schema(ops["GET /readyz"]["responses"]["503"])
    assert ready == {"$ref": "#/components/schemas/ReadinessReport"}


def test_the_document_is_built_once(app: Any) -> None:
    assert app.openapi() is app.openapi()


# --- what the routes raise, read from their source ------------------------------------------------


@cache
def module_functions(module_name: str) -> dict[str, ast.AST]:
    tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def raised_statuses(module_name: str, function: str) -> set[int]:
    """The ``status.HTTP_4xx/5xx_*`` a function names, with the module's functions it calls."""
    functions = module_functions(module_name)
    seen, todo, found = set(), [function], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Attribute) and node.attr.startswith("HTTP_"):
                code = int(node.attr.split("_")[1])
                found |= {code} if code >= 400 else set()
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                todo.append(node.func.id)
    return found


def test_raised_statuses_are_found_through_helpers() -> None:
    # The reader itself: a 404 behind two helper calls, and a 409 and a 503 in the route.
    assert raised_statuses("ragtasks_gateway.routes.sessions", "summarize") == {404, 409, 503}
    assert raised_statuses("ragtasks_gateway.routes.evaluations", "get_rows") == {404}


def test_every_status_a_route_raises_is_documented(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    checked = 0
    for route in (r for router in ROUTERS for r in router.routes):
        assert isinstance(route, APIRoute)
        for method in route.methods or ():
            documented = set(ops[f"{method} {route.path}"]["responses"])
            raised = raised_statuses(route.endpoint.__module__, route.endpoint.__name__)
            assert {str(s) for s in raised} <= documented, (method, route.path, raised - {int(d) for d in documented})
            checked += bool(raised)
    assert checked > 15
