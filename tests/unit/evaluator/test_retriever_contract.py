"""The http retriever against its documented contract (docs/retriever.schema.json).

A local HTTP endpoint validates every request the real ``HttpRetriever`` sends against
``$defs.request`` and answers documents valid under ``$defs.response``, which the retriever must
read. The KB's retriever spec (``RetrieverSpec``) and its resolution are checked here too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from ragtasks_core.contract.evaluator import RetrieverSpec
from ragtasks_core.settings import Settings
from ragtasks_evaluator.retrieval import resolve_config
from ragtasks_evaluator.retrievers import RetrievalError, RetrieverConfigError, http_retriever, request_body

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "retriever.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{name}"})


class Endpoint:
    """Answers ``answer`` to every POST; records path and body; 422 for a body the schema refuses."""

    def __init__(self) -> None:
        self.answer: Any = {"ids": []}
        self.seen: list[tuple[str, dict[str, Any]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.seen.append((self.path, body))
                errors = list(_validator("request").iter_errors(body))
                data = json.dumps({"errors": [e.message for e in errors]} if errors else endpoint.answer).encode()
                self.send_response(422 if errors else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_the_request_is_the_documented_one_with_the_kb_in_body_and_url(endpoint: Endpoint) -> None:
    config = {"kind": "http", "url": endpoint.base + "/kbs/{kb_id}/search", "ids_field": "ids"}
    endpoint.answer = {"ids": ["a", 7, "b"], "took_ms": 3}
    assert _validator("response").is_valid(endpoint.answer)
    retriever = http_retriever(Settings(), "zh:support", config)
    assert retriever.search("七天无理由退货怎么申请？", 2) == ["a", "7"]  # ids past top_k dropped
    [(path, body)] = endpoint.seen
    assert path == "/kbs/zh%3Asupport/search"
    assert (
        body
        == request_body("七天无理由退货怎么申请？", 2, "zh:support")
        == {
            "query": "七天无理由退货怎么申请？",
            "top_k": 2,
            "kb_id": "zh:support",
        }
    )


def test_both_documented_answer_shapes_are_read_and_others_are_errors(endpoint: Endpoint) -> None:
    settings = Settings(retriever="http", retriever_url=endpoint.base + "/r", retriever_ids_field="results.*.chunk_id")
    results = {"results": [{"chunk_id": "c2", "score": 0.9}, {"chunk_id": "c1", "score": 0.5}]}
    assert _validator("response").is_valid(results) and _validator("response").is_valid({"results": []})
    endpoint.answer = results
    retriever = http_retriever(settings, "kb")
    assert retriever.search("q", 10) == ["c2", "c1"]
    endpoint.answer = {"results": []}
    assert retriever.search("q", 10) == []  # an empty answer is a miss, not an error
    bad = {"results": [{"id": "c2"}]}
    assert not _validator("response").is_valid(bad)
    endpoint.answer = bad
    with pytest.raises(RetrievalError, match="bad retriever answer"):
        retriever.search("q", 10)
    assert all(_validator("request").is_valid(body) for _, body in endpoint.seen)


def test_retriever_spec_validation_and_resolution() -> None:
    assert RetrieverSpec(kind="http", url="https://rag.internal/{kb_id}/retrieve").url
    for bad in (
        {"kind": "http", "url": "https://rag/{kb}/retrieve"},
        {"kind": "http", "url": "file:///etc/passwd"},
        {"kind": "bm25", "url": "http://rag/"},
        {"kind": "elastic"},
        {"kind": "vector", "top_k": 0},
        {"kind": "http", "ids_field": "results.$where"},
        {"kind": "http", "token": "secret"},
    ):
        with pytest.raises(ValidationError):
            RetrieverSpec.model_validate(bad)
    settings = Settings(retriever="bm25", retriever_top_k=10, retriever_url="http://default/r")
    assert resolve_config(settings, None, None) == {"kind": "bm25", "top_k": 10}
    kb = {"kind": "http", "url": "http://rag/{kb_id}"}
    assert resolve_config(settings, kb, None) == {"kind": "http", "top_k": 10, "url": kb["url"], "ids_field": "ids"}
    assert resolve_config(settings, kb, {"kind": "vector", "top_k": 50}) == {"kind": "vector", "top_k": 50}
    with pytest.raises(RetrieverConfigError, match="needs a url"):
        http_retriever(Settings(retriever="bm25"), "kb", {"kind": "http"})
