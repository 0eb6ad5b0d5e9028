"""A local HTTP server that speaks OpenAI's chat-completions (and embeddings) wire format.

Driven through the real ``openai`` client. Tests script its behaviour: answer normally, return
429/503 (with or without ``Retry-After``), or hang past the client's timeout. It records when
each request arrived, so tests can measure backoff schedules and rates.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ragtasks_core.prompt_budget import chat_tokens
from tests.support.http_double import HttpDouble, JsonResponse


@dataclass
class Reply:
    """One scripted answer: ``status`` 200 answers with ``text``; others with an error body."""

    status: int = 200
    text: str | None = None
    retry_after: str | None = None
    hang_seconds: float = 0.0


@dataclass
class Request:
    at: float
    path: str
    body: dict[str, Any]


@dataclass
class FakeOpenAI(HttpDouble):
    latency_seconds: float = 0.0
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)
    default_text: str | None = None
    # A model's window: a chat request whose prompt (counted with the project's BPE, as
    # ``prompt_budget.chat_tokens`` does) plus its ``max_tokens`` exceeds it is refused with a 400,
    # in the words of ``window_style`` ("openai", "vllm", "ollama" or "qwen"). None: no window.
    window_tokens: int | None = None
    window_style: str = "openai"
    prompt_sizes: list[int] = field(default_factory=list)  # tokens of every chat prompt received
    refused_sizes: list[int] = field(default_factory=list)  # ... and of those refused as too long

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def env(self) -> dict[str, str]:
        """The ``RAGTASKS_LLM_*`` variables that point a worker or gateway at this double, with a
        rate limit high enough that no test waits on it."""
        return {
            "RAGTASKS_LLM_BASE_URL": self.base_url,
            "RAGTASKS_LLM_API_KEY": "sk-test",
            "RAGTASKS_LLM_MODEL": "fake-model",
            "RAGTASKS_LLM_RATE_LIMIT": "100/s",
        }

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def chat_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(Request(time.time(), path, body))
            return self.script.popleft() if self.script else Reply()

    def handle_post(self, path: str, raw: bytes) -> JsonResponse:
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return JsonResponse(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
        reply = self._next(path, body)
        if path.endswith("/chat/completions"):
            refusal = self._window_refusal(body)
            if refusal is not None:
                return refusal
        if reply.hang_seconds:
            time.sleep(reply.hang_seconds)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if reply.status != 200:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            error = {"message": f"scripted {reply.status}", "type": kind, "code": kind}
            return JsonResponse(reply.status, {"error": error}, headers)
        if path.endswith("/embeddings"):
            return JsonResponse(200, self._embeddings(body))
        return JsonResponse(200, self._completion(body, reply))

    def _window_refusal(self, body: dict[str, Any]) -> JsonResponse | None:
        """The 400 a server answers a prompt longer than its window with, or None."""
        messages = [{"role": str(m.get("role")), "content": str(m.get("content", ""))} for m in body["messages"]]
        prompt = chat_tokens(messages)
        with self._lock:
            self.prompt_sizes.append(prompt)
        wanted = prompt + int(body.get("max_tokens") or 0)
        if self.window_tokens is None or wanted <= self.window_tokens:
            return None
        with self._lock:
            self.refused_sizes.append(prompt)
        return JsonResponse(400, _context_error(self.window_style, self.window_tokens, prompt, wanted))

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        messages = body.get("messages", [])
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        text = reply.text or self.default_text
        if text is None:
            last = str(messages[-1].get("content", "")) if messages else ""
            text = "SUMMARY: " + " ".join(last.split()[-40:])
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(text) // 4,
                "total_tokens": prompt_chars // 4 + len(text) // 4,
            },
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        data = []
        for i, text in enumerate(inputs):
            vec = [0.0] * 16
            for j, ch in enumerate(str(text)):
                vec[(ord(ch) + j) % 16] += 1.0
            data.append({"object": "embedding", "index": i, "embedding": vec})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embed"),
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }


def _context_error(style: str, window: int, prompt: int, wanted: int) -> dict[str, Any]:
    """The error body each kind of server sends for a prompt beyond its window."""
    if style == "vllm":
        message = (
            f"This model's maximum context length is {window} tokens. However, you requested {wanted} tokens "
            f"({prompt} in the messages, {wanted - prompt} in the completion). Please reduce the length of the "
            "messages or completion."
        )
        return {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": 400}
    if style == "ollama":
        return {"error": {"message": "the input length exceeds the context length", "type": "api_error"}}
    if style == "qwen":
        message = f"<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, {window}]"
        return {"error": {"code": "invalid_parameter_error", "message": message, "type": "invalid_request_error"}}
    message = (
        f"This model's maximum context length is {window} tokens. However, your messages resulted in {prompt} "
        "tokens. Please reduce the length of the messages."
    )
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
