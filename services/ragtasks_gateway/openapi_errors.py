"""The gateway's answers besides success, for its OpenAPI document (``/openapi.json``).

FastAPI documents each route's success and its own 422; the rest come from where it cannot look:
:class:`~ragtasks_gateway.body_guard.BodyGuard` answers before any route runs (401, 403) or while
a body is read (408, 413), route code raises ``HTTPException``, and three routes build non-JSON
answers themselves. :data:`RAISES` lists, per operation, what its code raises (read it beside
``routes/*.py``); :data:`MEDIA` the non-JSON ones. ``tests/unit/gateway/test_openapi_errors.py``
keeps the table and the routes in step; ``tests/integration/gateway/test_api_fuzz.py`` holds the
document against the running gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from .alerts_alertmanager import Skipped


class ErrorDetail(BaseModel):
    """Every error answer but FastAPI's field errors: one sentence saying what to change."""

    detail: str


class SkippedAlerts(BaseModel):
    """Alertmanager's batch refused: no alert in it was valid, each is listed with its reason."""

    detail: list[Skipped]


class ReadinessReport(BaseModel):
    """``/readyz``: each backend's check, ``ok`` or ``error: <kind>``."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]


DESCRIPTIONS = {
    401: "No valid bearer token (checked before the body is read)",
    403: "The key lacks the scope this request needs (RAGTASKS_API_KEYS), or the admin scope under isolation",
    404: "Not found; another key's record answers the same (RAGTASKS_API_KEY_ISOLATION)",
    408: "The body did not arrive within RAGTASKS_REQUEST_BODY_TIMEOUT_SECONDS",
    409: "The record's state does not allow it now",
    413: "Over RAGTASKS_MAX_REQUEST_BYTES or one of the per-request limits derived from it",
    422: "The request breaks a rule the route checks itself",
    503: "A backend is unavailable (the answer says which; retry later)",
}

# Every /v1 route: BodyGuard's answers from the headers alone (``deps.access_problem``).
GUARDED: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDetail, "description": DESCRIPTIONS[status]} for status in (401, 403)
}
# Every route that reads a body: BodyGuard times it and counts its bytes (``body_guard._LimitedReceive``).
BODY_STATUSES = (408, 413)

E = ErrorDetail
# "METHOD path" -> {status: body} its route code answers (HTTPException, or a response it builds).
# A 422 here joins FastAPI's own field-error 422 (the document says either). ``{}``: none.
RAISES: dict[str, dict[int, type[BaseModel]]] = {
    "GET /healthz": {},
    "GET /readyz": {503: ReadinessReport},
    "GET /metrics": {},
    "POST /v1/sessions/{session_id}/messages": {404: E, 413: E},
    "GET /v1/sessions/{session_id}/context": {404: E},
    "POST /v1/sessions/{session_id}/summarize": {404: E, 409: E, 503: E},
    "GET /v1/sessions/{session_id}/summaries": {404: E},
    "DELETE /v1/sessions/{session_id}": {},  # another key's session answers as a missing one: 200
    "GET /v1/tasks/{task_id}": {},
    "POST /v1/kbs/{kb_id}/chunks": {404: E, 413: E, 422: E},
    "GET /v1/kbs/{kb_id}": {404: E},
    "PUT /v1/kbs/{kb_id}": {404: E, 422: E},
    "DELETE /v1/kbs/{kb_id}/chunks/{chunk_id}": {404: E},
    "POST /v1/kbs/{kb_id}/chunks:delete": {404: E, 413: E},
    "GET /v1/kbs/{kb_id}/merges": {404: E},
    "POST /v1/kbs/{kb_id}/queries": {404: E},
    "GET /v1/kbs/{kb_id}/queries": {404: E},
    "POST /v1/evaluations": {404: E, 422: E, 503: E},
    "GET /v1/evaluations": {},
    "GET /v1/evaluations/{evaluation_id}": {404: E},
    "GET /v1/evaluations/{evaluation_id}/rows": {404: E},
    "GET /v1/evaluations/{evaluation_id}/rows.csv": {404: E},
    "POST /v1/evaluations/{evaluation_id}/baseline": {404: E, 409: E},
    "POST /v1/alerts/alertmanager": {422: SkippedAlerts},
    "POST /v1/alerts": {},  # its own 422 is pydantic's field errors, FastAPI's shape
    "GET /v1/alerts": {},
    "GET /v1/alerts/{alert_id}": {404: E},
    "POST /v1/alerts/{alert_id}/redeliver": {404: E, 409: E},
    "POST /v1/silences": {422: E},
    "GET /v1/silences": {},
    "DELETE /v1/silences/{silence_id}": {404: E},
    "POST /v1/retrieval-events": {413: E},
}
# "METHOD path" -> the media types of its success when it is not (only) JSON.
MEDIA: dict[str, tuple[str, ...]] = {
    "GET /metrics": ("text/plain",),  # Prometheus's text exposition format
    "GET /v1/evaluations/{evaluation_id}/rows": ("application/json", "text/csv"),  # format=csv
    "GET /v1/evaluations/{evaluation_id}/rows.csv": ("text/csv",),
}


def router_responses(router: APIRouter) -> dict[int | str, dict[str, Any]]:
    """What ``include_router(router, responses=...)`` adds to every route of ``router``."""
    return GUARDED if router.prefix.startswith("/v1/") else {}


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` (what ``/openapi.json`` serves) complete, built once and cached."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`RAISES`, the body statuses and :data:`MEDIA` to a generated document."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            key = f"{method.upper()} {path}"
            answers = RAISES.get(key, {})
            if "requestBody" in operation:
                answers = dict.fromkeys(BODY_STATUSES, ErrorDetail) | answers
            for status, model in sorted(answers.items()):
                _add_answer(operation["responses"], status, _ref(schemas, model))
            if key in MEDIA:
                _set_media(operation["responses"], MEDIA[key])
    return doc


def _ref(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """``model``'s schema (and those it uses) in the components, by reference."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _add_answer(responses: dict[str, Any], status: int, schema: dict[str, Any]) -> None:
    """Document ``status`` with ``schema``; one already there (FastAPI's 422) admits either."""
    known = responses.get(str(status))
    if known is None:
        content = {"application/json": {"schema": schema}}
        responses[str(status)] = {"description": DESCRIPTIONS[status], "content": content}
        return
    media = known.setdefault("content", {}).setdefault("application/json", {})
    alternatives = media["schema"].get("anyOf", [media["schema"]]) if "schema" in media else []
    if schema not in alternatives:
        media["schema"] = {"anyOf": [*alternatives, schema]} if alternatives else schema
        known["description"] = "; or: ".join(filter(None, (known.get("description"), DESCRIPTIONS[status])))


def _set_media(responses: dict[str, Any], media_types: tuple[str, ...]) -> None:
    """The success's content under its real media types; JSON keeps the schema FastAPI made."""
    for status, response in responses.items():
        if status.startswith("2"):
            json_schema = response.get("content", {}).get("application/json", {"schema": {}})
            response["content"] = {
                media: json_schema if media == "application/json" else {"schema": {"type": "string"}}
                for media in media_types
            }
